/**
 * Versioned schema migrations, run at start (kysely's Migrator keeps the applied list in kysely_migration).
 * Never edit a migration that has shipped: add the next one.
 */
import { sql, type Kysely } from 'kysely';
import type { Migration, MigrationProvider } from 'kysely/migration';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- migrations must not depend on today's schema types
type AnyDb = Kysely<any>;

const initial: Migration = {
  async up(db: AnyDb) {
    await db.schema
      .createTable('node_meta')
      .addColumn('key', 'text', (c) => c.primaryKey())
      .addColumn('value', 'text', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('users')
      .addColumn('id', 'integer', (c) => c.primaryKey())
      .addColumn('username', 'text', (c) => c.notNull().modifyEnd(sql`collate nocase`).unique())
      .addColumn('display_name', 'text', (c) => c.notNull().defaultTo(''))
      .addColumn('email', 'text', (c) => c.notNull().defaultTo(''))
      .addColumn('status', 'text', (c) => c.notNull().defaultTo('active'))
      .addColumn('password_hash', 'text')
      .addColumn('auth_mode', 'text')
      .addColumn('attributes', 'text', (c) => c.notNull().defaultTo('[]'))
      .addColumn('created_at', 'integer', (c) => c.notNull())
      .addColumn('updated_at', 'integer', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('groups')
      .addColumn('id', 'integer', (c) => c.primaryKey())
      .addColumn('name', 'text', (c) => c.notNull().modifyEnd(sql`collate nocase`).unique())
      .addColumn('description', 'text', (c) => c.notNull().defaultTo(''))
      .addColumn('attributes', 'text', (c) => c.notNull().defaultTo('[]'))
      .execute();
    await db.schema
      .createTable('user_groups')
      .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id').onDelete('cascade'))
      .addColumn('group_id', 'integer', (c) => c.notNull().references('groups.id').onDelete('cascade'))
      .addPrimaryKeyConstraint('user_groups_pk', ['user_id', 'group_id'])
      .modifyEnd(sql`without rowid`)
      .execute();
    await db.schema.createIndex('user_groups_group').on('user_groups').column('group_id').execute();
    await db.schema
      .createTable('tokens')
      .addColumn('id', 'integer', (c) => c.primaryKey())
      .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id').onDelete('cascade'))
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('algorithm', 'text', (c) => c.notNull())
      .addColumn('digits', 'integer', (c) => c.notNull())
      .addColumn('period', 'integer', (c) => c.notNull())
      .addColumn('t0', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('secret_sealed', 'text', (c) => c.notNull())
      .addColumn('counter', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('window_past', 'integer')
      .addColumn('window_future', 'integer')
      .addColumn('serial', 'text')
      .addColumn('label', 'text', (c) => c.notNull().defaultTo(''))
      .addColumn('active', 'integer', (c) => c.notNull().defaultTo(1))
      .addColumn('created_at', 'integer', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('tokens_user').on('tokens').column('user_id').execute();
    await db.schema
      .createTable('token_state')
      .addColumn('token_id', 'integer', (c) => c.primaryKey().references('tokens.id').onDelete('cascade'))
      .addColumn('last_step', 'integer', (c) => c.notNull().defaultTo(-1))
      .addColumn('drift', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('updated_at', 'integer', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('hardware_tokens')
      .addColumn('id', 'integer', (c) => c.primaryKey())
      .addColumn('serial', 'text', (c) => c.notNull().unique())
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('algorithm', 'text', (c) => c.notNull())
      .addColumn('digits', 'integer', (c) => c.notNull())
      .addColumn('period', 'integer', (c) => c.notNull())
      .addColumn('secret_sealed', 'text', (c) => c.notNull())
      .addColumn('counter', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('manufacturer', 'text', (c) => c.notNull().defaultTo(''))
      .addColumn('model', 'text', (c) => c.notNull().defaultTo(''))
      .addColumn('token_id', 'integer', (c) => c.references('tokens.id').onDelete('set null'))
      .addColumn('created_at', 'integer', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('clients')
      .addColumn('id', 'integer', (c) => c.primaryKey())
      .addColumn('name', 'text', (c) => c.notNull().modifyEnd(sql`collate nocase`).unique())
      .addColumn('address', 'text', (c) => c.notNull().unique())
      .addColumn('secret_sealed', 'text', (c) => c.notNull())
      .addColumn('require_message_authenticator', 'integer', (c) => c.notNull().defaultTo(1))
      .addColumn('auth_mode', 'text')
      .addColumn('on_backend_error', 'text', (c) => c.notNull().defaultTo('reject'))
      .addColumn('description', 'text', (c) => c.notNull().defaultTo(''))
      .execute();
    await db.schema
      .createTable('settings')
      .addColumn('id', 'integer', (c) => c.primaryKey().check(sql`id = 1`))
      .addColumn('document', 'text', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('auth_state')
      .addColumn('user_id', 'integer', (c) => c.primaryKey().references('users.id').onDelete('cascade'))
      .addColumn('failures', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('locked_until', 'integer')
      .addColumn('updated_at', 'integer', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('changes')
      .addColumn('seq', 'integer', (c) => c.primaryKey())
      .addColumn('at', 'integer', (c) => c.notNull())
      .addColumn('entity', 'text', (c) => c.notNull())
      .addColumn('op', 'text', (c) => c.notNull())
      .addColumn('key', 'text', (c) => c.notNull())
      .addColumn('payload', 'text')
      .addColumn('prev_hash', 'text', (c) => c.notNull())
      .addColumn('hash', 'text', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('auth_log')
      .addColumn('id', 'integer', (c) => c.primaryKey())
      .addColumn('at', 'integer', (c) => c.notNull())
      .addColumn('node', 'text', (c) => c.notNull())
      .addColumn('username', 'text', (c) => c.notNull())
      .addColumn('client', 'text', (c) => c.notNull())
      .addColumn('source', 'text', (c) => c.notNull())
      .addColumn('nas_ip', 'text', (c) => c.notNull().defaultTo(''))
      .addColumn('calling_station', 'text', (c) => c.notNull().defaultTo(''))
      .addColumn('result', 'text', (c) => c.notNull())
      .addColumn('reason', 'text')
      .addColumn('backend', 'text')
      .addColumn('latency_us', 'integer', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('auth_log_at').on('auth_log').column('at').execute();
    await db.schema.createIndex('auth_log_user').on('auth_log').columns(['username', 'at']).execute();
  },
};

/** Clustering: admin accounts (replicated), the master's replica registry, and step reports from replicas. */
const cluster: Migration = {
  async up(db: AnyDb) {
    await db.schema
      .createTable('admins')
      .addColumn('username', 'text', (c) => c.primaryKey().modifyEnd(sql`collate nocase`))
      .addColumn('password_hash', 'text', (c) => c.notNull())
      .addColumn('created_at', 'integer', (c) => c.notNull())
      .addColumn('updated_at', 'integer', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('replicas')
      .addColumn('name', 'text', (c) => c.primaryKey())
      .addColumn('fingerprint', 'text', (c) => c.notNull().unique())
      .addColumn('created_at', 'integer', (c) => c.notNull())
      .addColumn('expires_at', 'integer', (c) => c.notNull())
      .addColumn('revoked_at', 'integer')
      .addColumn('last_seen_at', 'integer')
      .addColumn('last_address', 'text')
      .addColumn('acked_seq', 'integer', (c) => c.notNull().defaultTo(0))
      .execute();
    // nodes reload clients, groups and settings when one of them changes; this finds the last such change quickly
    await db.schema.createIndex('changes_entity_seq').on('changes').columns(['entity', 'seq']).execute();
    // 0 = accepted on this node and not yet known to the master (replicas report these)
    await db.schema.alterTable('token_state').addColumn('reported', 'integer', (c) => c.notNull().defaultTo(1)).execute();
  },
};

/** Backends and policies: per-client chains and single-factor exceptions, the initial-login allowance, audit detail. */
const policies: Migration = {
  async up(db: AnyDb) {
    await db.schema.alterTable('clients').addColumn('backends', 'text').execute();
    await db.schema.alterTable('clients').addColumn('single_factor', 'integer', (c) => c.notNull().defaultTo(0)).execute();
    await db.schema.alterTable('users').addColumn('initial_login_until', 'integer').execute();
    await db.schema.alterTable('auth_log').addColumn('detail', 'text').execute();
    await db.schema.alterTable('auth_log').addColumn('policy', 'text').execute();
    // master only: how many password-only logins each user without a token has used
    await db.schema
      .createTable('initial_logins')
      .addColumn('user_id', 'integer', (c) => c.primaryKey().references('users.id').onDelete('cascade'))
      .addColumn('count', 'integer', (c) => c.notNull())
      .execute();
  },
};

/** Every admin action (CLI and web UI), with before/after and never a secret. Node-local, not replicated. */
const adminAudit: Migration = {
  async up(db: AnyDb) {
    await db.schema
      .createTable('admin_audit')
      .addColumn('id', 'integer', (c) => c.primaryKey())
      .addColumn('at', 'integer', (c) => c.notNull())
      .addColumn('actor', 'text', (c) => c.notNull())
      .addColumn('source', 'text', (c) => c.notNull())
      .addColumn('action', 'text', (c) => c.notNull())
      .addColumn('target', 'text', (c) => c.notNull())
      .addColumn('before', 'text')
      .addColumn('after', 'text')
      .addColumn('details', 'text')
      .execute();
    await db.schema.createIndex('admin_audit_at').on('admin_audit').column('at').execute();
  },
};

/** WebAuthn credentials of users (passkeys, security keys), replicated like tokens, gone with their user. */
const passkeys: Migration = {
  async up(db: AnyDb) {
    await db.schema
      .createTable('passkeys')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id').onDelete('cascade'))
      .addColumn('public_key', 'text', (c) => c.notNull())
      .addColumn('counter', 'integer', (c) => c.notNull())
      .addColumn('transports', 'text', (c) => c.notNull())
      .addColumn('passwordless', 'integer', (c) => c.notNull())
      .addColumn('label', 'text', (c) => c.notNull())
      .addColumn('created_at', 'integer', (c) => c.notNull())
      .addColumn('last_used_at', 'integer')
      .modifyEnd(sql`without rowid`)
      .execute();
    await db.schema.createIndex('passkeys_user').on('passkeys').column('user_id').execute();
  },
};

/**
 * Master only, not replicated: which identity at an OpenID Connect provider (Entra tid + oid, else sub) signs in as
 * which user. One per user and provider; gone with the user.
 */
const oidcIdentities: Migration = {
  async up(db: AnyDb) {
    await db.schema
      .createTable('oidc_identities')
      .addColumn('provider', 'text', (c) => c.notNull())
      .addColumn('subject', 'text', (c) => c.notNull())
      .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id').onDelete('cascade'))
      .addColumn('created_at', 'integer', (c) => c.notNull())
      .addColumn('last_used_at', 'integer', (c) => c.notNull())
      .addPrimaryKeyConstraint('oidc_identities_pk', ['provider', 'subject'])
      .modifyEnd(sql`without rowid`)
      .execute();
    await db.schema.createIndex('oidc_identities_user').on('oidc_identities').columns(['user_id', 'provider']).unique().execute();
  },
};

/** Master only, not replicated: each RADIUS client's VPN profile for the portal's downloads, gone with its client. */
const vpnProfiles: Migration = {
  async up(db: AnyDb) {
    await db.schema
      .createTable('vpn_profiles')
      .addColumn('client_id', 'integer', (c) => c.primaryKey().references('clients.id').onDelete('cascade'))
      .addColumn('display_name', 'text', (c) => c.notNull())
      .addColumn('type', 'text', (c) => c.notNull())
      .addColumn('server', 'text', (c) => c.notNull())
      .addColumn('remote_id', 'text', (c) => c.notNull())
      .addColumn('shared_secret_sealed', 'text')
      .addColumn('updated_at', 'integer', (c) => c.notNull())
      .execute();
  },
};

export const migrations: Record<string, Migration> = {
  '0001_initial': initial,
  '0002_cluster': cluster,
  '0003_policies': policies,
  '0004_admin_audit': adminAudit,
  '0005_passkeys': passkeys,
  '0006_oidc_identities': oidcIdentities,
  '0007_vpn_profiles': vpnProfiles,
};

export const migrationProvider: MigrationProvider = {
  getMigrations: () => Promise.resolve(migrations),
};
