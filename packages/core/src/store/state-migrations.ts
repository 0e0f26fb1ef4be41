/**
 * Schema migrations of the state database (state.db), kept apart from the configuration database's: each file has its
 * own kysely_migration table. Never edit a migration that has shipped: add the next one.
 */
import { sql, type Kysely } from 'kysely';
import type { Migration, MigrationProvider } from 'kysely/migration';
import type { Database } from './database.js';
import type { DB } from './schema.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- migrations must not depend on today's schema types
type AnyDb = Kysely<any>;

const initial: Migration = {
  async up(db: AnyDb) {
    await db.schema
      .createTable('token_state')
      .addColumn('token_id', 'integer', (c) => c.primaryKey())
      .addColumn('last_step', 'integer', (c) => c.notNull().defaultTo(-1))
      .addColumn('drift', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('updated_at', 'integer', (c) => c.notNull())
      .addColumn('reported', 'integer', (c) => c.notNull().defaultTo(1))
      .execute();
    // the reporters look for the few rows the master does not know yet, among every token's
    await db.schema.createIndex('token_state_unreported').on('token_state').column('token_id').where(sql.ref('reported'), '=', 0).execute();
    await db.schema
      .createTable('auth_state')
      .addColumn('user_id', 'integer', (c) => c.primaryKey())
      .addColumn('failures', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('locked_until', 'integer')
      .addColumn('updated_at', 'integer', (c) => c.notNull())
      .addColumn('unreported_failures', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('unreported_success', 'integer', (c) => c.notNull().defaultTo(0))
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
      .addColumn('detail', 'text')
      .addColumn('policy', 'text')
      .execute();
    await db.schema.createIndex('auth_log_at').on('auth_log').column('at').execute();
    await db.schema.createIndex('auth_log_user').on('auth_log').columns(['username', 'at']).execute();
    await db.schema
      .createTable('initial_logins')
      .addColumn('user_id', 'integer', (c) => c.primaryKey())
      .addColumn('count', 'integer', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('challenges')
      .addColumn('state', 'text', (c) => c.primaryKey())
      .addColumn('user_id', 'integer', (c) => c.notNull())
      .addColumn('username', 'text', (c) => c.notNull())
      .addColumn('client', 'text', (c) => c.notNull())
      .addColumn('backend', 'text', (c) => c.notNull())
      .addColumn('groups', 'text', (c) => c.notNull())
      .addColumn('expires_at', 'integer', (c) => c.notNull())
      .modifyEnd(sql`without rowid`)
      .execute();
    await db.schema.createIndex('challenges_expiry').on('challenges').column('expires_at').execute();
  },
};

/**
 * The request a step was used by: a retransmission of that same request, arriving after the thread that answered it
 * has restarted (its duplicate cache gone), gets the same Accept instead of "replay".
 */
const requestKeys: Migration = {
  async up(db: AnyDb) {
    await db.schema.alterTable('token_state').addColumn('request_key', 'text').execute();
  },
};

/** Master: whether a lock set here has gone into the change log yet (lockouts.ts). */
const lockPublished: Migration = {
  async up(db: AnyDb) {
    await db.schema.alterTable('auth_state').addColumn('lock_published', 'integer', (c) => c.notNull().defaultTo(1)).execute();
  },
};

/** One row the store health writes to see whether the file takes writes again (store-health.ts). */
const writeProbe: Migration = {
  async up(db: AnyDb) {
    await db.schema
      .createTable('write_probe')
      .addColumn('id', 'integer', (c) => c.primaryKey().check(sql`id = 1`))
      .addColumn('at', 'integer', (c) => c.notNull())
      .execute();
  },
};

/** The auth log counted per 5 minutes, this node's and its replicas' (auth-buckets.ts). */
const authBuckets: Migration = {
  async up(db: AnyDb) {
    await db.schema
      .createTable('auth_buckets')
      .addColumn('bucket', 'integer', (c) => c.notNull())
      .addColumn('result', 'text', (c) => c.notNull())
      .addColumn('reason', 'text', (c) => c.notNull())
      .addColumn('count', 'integer', (c) => c.notNull())
      .addColumn('reported', 'integer', (c) => c.notNull().defaultTo(0))
      .addPrimaryKeyConstraint('auth_buckets_pk', ['bucket', 'result', 'reason'])
      .modifyEnd(sql`without rowid`)
      .execute();
    await db.schema
      .createTable('auth_log_rollup')
      .addColumn('id', 'integer', (c) => c.primaryKey().check(sql`id = 1`))
      .addColumn('last_id', 'integer', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('replica_auth_buckets')
      .addColumn('bucket', 'integer', (c) => c.notNull())
      .addColumn('replica', 'text', (c) => c.notNull())
      .addColumn('result', 'text', (c) => c.notNull())
      .addColumn('reason', 'text', (c) => c.notNull())
      .addColumn('count', 'integer', (c) => c.notNull())
      .addPrimaryKeyConstraint('replica_auth_buckets_pk', ['bucket', 'replica', 'result', 'reason'])
      .modifyEnd(sql`without rowid`)
      .execute();
  },
};

/** Master: one-time VPN credentials, by the hash of their password (vpn/credential-table.ts). */
const vpnCredentials: Migration = {
  async up(db: AnyDb) {
    await db.schema
      .createTable('vpn_credentials')
      .addColumn('hash', 'text', (c) => c.primaryKey())
      .addColumn('user_id', 'integer', (c) => c.notNull())
      .addColumn('client', 'text')
      .addColumn('issued_by', 'text', (c) => c.notNull())
      .addColumn('issued_at', 'integer', (c) => c.notNull())
      .addColumn('expires_at', 'integer', (c) => c.notNull())
      .addColumn('used_at', 'integer')
      .addColumn('used_by', 'text')
      .modifyEnd(sql`without rowid`)
      .execute();
    await db.schema.createIndex('vpn_credentials_user').on('vpn_credentials').columns(['user_id', 'issued_at']).execute();
    await db.schema.createIndex('vpn_credentials_expiry').on('vpn_credentials').column('expires_at').execute();
  },
};

/**
 * Master: pushes waiting for their user's approval (push/push-table.ts); every node: the number a challenge showed
 * for number matching.
 */
const pushes: Migration = {
  async up(db: AnyDb) {
    await db.schema
      .createTable('pushes')
      .addColumn('seq', 'integer', (c) => c.primaryKey())
      .addColumn('id', 'text', (c) => c.notNull().unique())
      .addColumn('request_key', 'text', (c) => c.notNull().unique())
      .addColumn('user_id', 'integer', (c) => c.notNull())
      .addColumn('username', 'text', (c) => c.notNull())
      .addColumn('client', 'text', (c) => c.notNull())
      .addColumn('client_address', 'text', (c) => c.notNull())
      .addColumn('number', 'text')
      .addColumn('created_at', 'integer', (c) => c.notNull())
      .addColumn('expires_at', 'integer', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('decided_at', 'integer')
      .execute();
    await db.schema.createIndex('pushes_user').on('pushes').columns(['user_id', 'created_at']).execute();
    await db.schema.createIndex('pushes_decided').on('pushes').column('decided_at').where(sql.ref('decided_at'), 'is not', null).execute();
    await db.schema.createIndex('pushes_pending').on('pushes').column('expires_at').where(sql.ref('status'), '=', 'pending').execute();
    await db.schema.alterTable('challenges').addColumn('push_number', 'text').execute();
  },
};

export const stateMigrationProvider: MigrationProvider = {
  getMigrations: () =>
    Promise.resolve({ '0001_state': initial, '0002_request_keys': requestKeys, '0003_lock_published': lockPublished, '0004_write_probe': writeProbe, '0005_auth_buckets': authBuckets, '0006_vpn_credentials': vpnCredentials, '0007_pushes': pushes }),
};

/** The tables that lived in otpgate.db before the state database existed, with the columns both versions have. */
const LEGACY_TABLES = {
  token_state: 'token_id, last_step, drift, updated_at, reported',
  auth_state: 'user_id, failures, locked_until, updated_at',
  auth_log: 'id, at, node, username, client, source, nas_ip, calling_station, result, reason, backend, latency_us, detail, policy',
  initial_logins: 'user_id, count',
} as const;

/**
 * Move what a node written by an earlier version keeps in otpgate.db into state.db, once, in one transaction (both
 * files locked: this runs at start, before anything serves). Rows already in state.db win.
 */
export function moveLegacyState(config: Database<DB>, statePath: string): boolean {
  const sqlite = config.sqlite;
  const present = (sqlite.prepare(`select name from sqlite_master where type = 'table' and name in (${Object.keys(LEGACY_TABLES).map(() => '?').join(', ')})`)
    .all(...Object.keys(LEGACY_TABLES)) as Array<{ name: keyof typeof LEGACY_TABLES }>).map((r) => r.name);
  if (present.length === 0) return false;
  sqlite.prepare('attach database ? as state').run(statePath);
  try {
    sqlite.transaction(() => {
      for (const table of present) {
        const columns = LEGACY_TABLES[table];
        sqlite.exec(`insert or ignore into state.${table} (${columns}) select ${columns} from main.${table}`);
        sqlite.exec(`drop table main.${table}`);
      }
    }).immediate();
  } finally {
    sqlite.exec('detach database state');
  }
  return true;
}
