import type { z } from 'zod';
import {
  adminRecordSchema,
  clientRecordSchema,
  groupRecordSchema,
  hardwareTokenRecordSchema,
  lockoutRecordSchema,
  passkeyRecordSchema,
  seal,
  settingsSchema,
  SETTINGS_SECRET_FIELDS,
  tokenRecordSchema,
  tokenStateRecordSchema,
  unseal,
  userRecordSchema,
  type AdminRecord,
  type ClientRecord,
  type Entity,
  type GroupRecord,
  type HardwareTokenRecord,
  type LockoutRecord,
  type PasskeyRecord,
  type ReplyAttribute,
  type Settings,
  type TokenRecord,
  type TokenStateRecord,
  type UserRecord,
} from '@otpgate/shared';
import type { Selectable } from 'kysely';
import type { Database } from './database.js';
import type { ClientsTable, DB, UsersTable } from './schema.js';
import type { StateDB } from './state-schema.js';

/** The node's two database files (a Store is one). */
export interface StoreFiles {
  db: Database;
  state: Database<StateDB>;
}

/**
 * How each replicated entity is written to and read from its tables. Local changes and changes applied from the
 * master's feed go through the same functions, so a replica's tables are the master's tables.
 */
export interface EntityHandler<R> {
  schema: z.ZodType<R>;
  /**
   * Which file holds the entity's rows: the configuration database, or the state database (replay steps and
   * lockouts, which RADIUS writes too). Its change-log entries are always in the configuration database.
   */
  file: 'config' | 'state';
  /** Fields holding secrets: sealed at rest, in clear only inside the mutual-TLS feed. */
  secretFields: readonly string[];
  key(record: R): string;
  upsert(files: StoreFiles, sealKey: Buffer, record: R): void;
  remove(files: StoreFiles, key: string): void;
  read(files: StoreFiles, sealKey: Buffer, key: string): R | undefined;
  /**
   * Every record, in key order, a page at a time: what a snapshot or an export reads, with a million users, without
   * holding them all. Within one read transaction of the caller's, the pages are one consistent view.
   */
  scan(files: StoreFiles, sealKey: Buffer): Iterable<R>;
}

/** Records read per query by scan(). */
const SCAN_PAGE = 1000;

/**
 * The rows of `page(after)` (the next SCAN_PAGE rows past the key `after`, in key order) until one comes back short:
 * keyset paging, so every page is an indexed seek, and nothing stays open between pages (better-sqlite3 allows no
 * other statement on a connection while an iterator is open).
 */
function* pages<Row, K>(first: K, page: (after: K) => Row[], keyOf: (row: Row) => K): Generator<Row[]> {
  let after = first;
  for (;;) {
    const rows = page(after);
    if (rows.length > 0) yield rows;
    if (rows.length < SCAN_PAGE) return;
    after = keyOf(rows[rows.length - 1]!);
  }
}

const json = (value: unknown) => JSON.stringify(value);

type IdTable = 'tokens' | 'hardware_tokens' | 'groups' | 'clients';

/** remove, read and scan for a table keyed by an integer id, given how a row becomes a record. */
function byId<T extends IdTable, R>(
  table: T,
  fromRow: (sealKey: Buffer, row: Selectable<DB[T]>) => R,
): Pick<EntityHandler<R>, 'remove' | 'read' | 'scan'> {
  // the table name comes from the fixed union above, never from input
  return {
    remove({ db }, key) {
      db.prepare(`delete from ${table} where id = ?`).run(Number(key));
    },
    read({ db }, sealKey, key) {
      const row = db.prepare(`select * from ${table} where id = ?`).get(Number(key)) as Selectable<DB[T]> | undefined;
      return row && fromRow(sealKey, row);
    },
    *scan({ db }, sealKey) {
      const page = db.prepare(`select * from ${table} where id > ? order by id limit ${SCAN_PAGE}`);
      for (const rows of pages(0, (after) => page.all(after) as Array<Selectable<DB[T]>>, (row) => (row as { id: number }).id)) {
        for (const row of rows) yield fromRow(sealKey, row);
      }
    },
  };
}

/**
 * Apply `fn` to the secret fields named by `paths` ("field", "list[].field"); empty strings are left as they are.
 * The context passed to `fn` names the field, so a sealed value cannot be moved to another field.
 */
export function mapSecretFields(value: unknown, paths: readonly string[], fn: (secret: string, context: string) => string): unknown {
  const visit = (node: unknown, parts: string[], context: string): unknown => {
    if (parts.length === 0) return typeof node === 'string' && node !== '' ? fn(node, context) : node;
    if (node === null || typeof node !== 'object') return node;
    const [head, ...rest] = parts as [string, ...string[]];
    const list = head.endsWith('[]');
    const key = list ? head.slice(0, -2) : head;
    const record = node as Record<string, unknown>;
    if (!(key in record)) return node;
    const child = record[key];
    const next = list && Array.isArray(child) ? child.map((item) => visit(item, rest, context)) : list ? child : visit(child, rest, context);
    return { ...record, [key]: next };
  };
  return paths.reduce((acc, path) => visit(acc, path.split('.'), path), value);
}
const attributesOf = (text: string) => JSON.parse(text) as ReplyAttribute[];

const users: EntityHandler<UserRecord> = {
  schema: userRecordSchema,
  file: 'config',
  secretFields: [],
  key: (r) => String(r.id),
  upsert({ db }, _key, r) {
    const row = {
      id: r.id,
      username: r.username,
      display_name: r.display_name,
      email: r.email,
      status: r.status,
      password_hash: r.password_hash,
      auth_mode: r.auth_mode,
      attributes: json(r.attributes),
      initial_login_until: r.initial_login_until,
      created_at: r.created_at,
      updated_at: r.updated_at,
    };
    db.upsert('users', row, 'id');
    // hand-written, prepared once: a snapshot runs these for every user
    db.prepare('delete from user_groups where user_id = ?').run(r.id);
    for (const name of r.groups) {
      const group = db.prepare('select id from groups where name = ?').get(name) as { id: number } | undefined;
      if (!group) throw new Error(`user ${r.username} refers to group "${name}", which does not exist`);
      db.prepare('insert into user_groups (user_id, group_id) values (?, ?)').run(r.id, group.id);
    }
  },
  remove({ db }, key) {
    db.run(db.q.deleteFrom('users').where('id', '=', Number(key)));
  },
  read({ db }, _key, key) {
    const row = db.first(db.q.selectFrom('users').selectAll().where('id', '=', Number(key)));
    return row && userFromRow(row, db.all(userGroupsQuery(db, row.id)).map((g) => g.name));
  },
  *scan({ db }) {
    const page = db.prepare(`select * from users where id > ? order by id limit ${SCAN_PAGE}`);
    // the memberships of a page's users in one query, not one query per user (a snapshot reads every user)
    const members = db.prepare(
      `select user_groups.user_id, groups.name from user_groups join groups on groups.id = user_groups.group_id
         where user_groups.user_id between ? and ? order by user_groups.user_id, groups.name`,
    );
    for (const rows of pages(0, (after) => page.all(after) as Array<Selectable<UsersTable>>, (row) => row.id)) {
      const memberships = new Map<number, string[]>();
      for (const m of members.all(rows[0]!.id, rows[rows.length - 1]!.id) as Array<{ user_id: number; name: string }>) {
        const list = memberships.get(m.user_id);
        if (list) list.push(m.name);
        else memberships.set(m.user_id, [m.name]);
      }
      for (const row of rows) yield userFromRow(row, memberships.get(row.id) ?? []);
    }
  },
};

/** The names of a user's groups, in order. */
function userGroupsQuery(db: Database, userId: number) {
  return db.q
    .selectFrom('user_groups')
    .innerJoin('groups', 'groups.id', 'user_groups.group_id')
    .select('groups.name')
    .where('user_groups.user_id', '=', userId)
    .orderBy('groups.name');
}

function userFromRow(row: Selectable<UsersTable>, groups: string[]): UserRecord {
  return { ...row, attributes: attributesOf(row.attributes), groups };
}

const tokens: EntityHandler<TokenRecord> = {
  schema: tokenRecordSchema,
  file: 'config',
  secretFields: ['secret'],
  key: (r) => String(r.id),
  upsert({ db }, sealKey, r) {
    const { secret, active, ...rest } = r;
    const row = { ...rest, active: active ? (1 as const) : (0 as const), secret_sealed: seal(sealKey, secret, 'token-secret') };
    db.upsert('tokens', row, 'id');
  },
  ...byId('tokens', tokenFromRow),
};

function tokenFromRow(
  sealKey: Buffer,
  row: Omit<TokenRecord, 'secret' | 'active'> & { secret_sealed: string; active: number },
): TokenRecord {
  const { secret_sealed, active, ...rest } = row;
  return { ...rest, active: active === 1, secret: unseal(sealKey, secret_sealed, 'token-secret').toString() };
}

const tokenStates: EntityHandler<TokenStateRecord> = {
  schema: tokenStateRecordSchema,
  file: 'state',
  secretFields: [],
  key: (r) => String(r.token_id),
  upsert({ state }, _key, r) {
    // the highest step any node has seen wins: a code used anywhere stays used everywhere; once the master knows a
    // step, a replica has nothing left to report for it
    state.prepare(
      `insert into token_state (token_id, last_step, drift, updated_at) values (?, ?, ?, ?)
         on conflict (token_id) do update set
           drift = case when excluded.last_step >= token_state.last_step then excluded.drift else token_state.drift end,
           last_step = max(token_state.last_step, excluded.last_step),
           reported = case when excluded.last_step >= token_state.last_step then 1 else token_state.reported end,
           updated_at = excluded.updated_at`,
    ).run(r.token_id, r.last_step, r.drift, Date.now());
  },
  remove({ state }, key) {
    state.run(state.q.deleteFrom('token_state').where('token_id', '=', Number(key)));
  },
  read({ state }, _key, key) {
    return state.first(state.q.selectFrom('token_state').select(['token_id', 'last_step', 'drift']).where('token_id', '=', Number(key)));
  },
  *scan({ state }) {
    const page = state.prepare(`select token_id, last_step, drift from token_state where token_id > ? order by token_id limit ${SCAN_PAGE}`);
    for (const rows of pages(0, (after) => page.all(after) as TokenStateRecord[], (row) => row.token_id)) yield* rows;
  },
};

const hardwareTokens: EntityHandler<HardwareTokenRecord> = {
  schema: hardwareTokenRecordSchema,
  file: 'config',
  secretFields: ['secret'],
  key: (r) => String(r.id),
  upsert({ db }, sealKey, r) {
    const { secret, ...rest } = r;
    const row = { ...rest, secret_sealed: seal(sealKey, secret, 'hardware-token-secret') };
    db.upsert('hardware_tokens', row, 'id');
  },
  ...byId('hardware_tokens', hardwareFromRow),
};

function hardwareFromRow(sealKey: Buffer, row: Omit<HardwareTokenRecord, 'secret'> & { secret_sealed: string }): HardwareTokenRecord {
  const { secret_sealed, ...rest } = row;
  return { ...rest, secret: unseal(sealKey, secret_sealed, 'hardware-token-secret').toString() };
}

const groups: EntityHandler<GroupRecord> = {
  schema: groupRecordSchema,
  file: 'config',
  secretFields: [],
  key: (r) => String(r.id),
  upsert({ db }, _key, r) {
    const row = { ...r, attributes: json(r.attributes) };
    db.upsert('groups', row, 'id');
  },
  ...byId('groups', (_key, row) => ({ ...row, attributes: attributesOf(row.attributes) })),
};

const clients: EntityHandler<ClientRecord> = {
  schema: clientRecordSchema,
  file: 'config',
  secretFields: ['secret'],
  key: (r) => String(r.id),
  upsert({ db }, sealKey, r) {
    const { secret, require_message_authenticator, single_factor, backends, ...rest } = r;
    const row = {
      ...rest,
      require_message_authenticator: require_message_authenticator ? (1 as const) : (0 as const),
      single_factor: single_factor ? (1 as const) : (0 as const),
      backends: backends === null ? null : json(backends),
      secret_sealed: seal(sealKey, secret, 'client-secret'),
    };
    db.upsert('clients', row, 'id');
  },
  ...byId('clients', clientFromRow),
};

function clientFromRow(sealKey: Buffer, row: Selectable<ClientsTable>): ClientRecord {
  const { secret_sealed, require_message_authenticator, single_factor, backends, ...rest } = row;
  return {
    ...rest,
    require_message_authenticator: require_message_authenticator === 1,
    single_factor: single_factor === 1,
    backends: backends === null ? null : (JSON.parse(backends) as string[]),
    secret: unseal(sealKey, secret_sealed, 'client-secret').toString(),
  };
}

export const SETTINGS_KEY = 'settings';
const settings: EntityHandler<Settings> = {
  schema: settingsSchema,
  file: 'config',
  secretFields: SETTINGS_SECRET_FIELDS.map((f) => `backends[].${f}`),
  key: () => SETTINGS_KEY,
  upsert({ db }, sealKey, r) {
    const row = { id: 1, document: json(mapSecretFields(r, this.secretFields, (v, ctx) => seal(sealKey, v, ctx))) };
    db.upsert('settings', row, 'id');
  },
  remove({ db }) {
    db.run(db.q.deleteFrom('settings'));
  },
  read({ db }, sealKey) {
    const row = db.first(db.q.selectFrom('settings').select('document'));
    const stored: unknown = row ? JSON.parse(row.document) : {};
    return settingsSchema.parse(mapSecretFields(stored, this.secretFields, (v, ctx) => unseal(sealKey, v, ctx).toString()));
  },
  *scan(files, sealKey) {
    yield this.read(files, sealKey, SETTINGS_KEY)!;
  },
};

/**
 * A lockout entry: an admin's unlock clears the user's count and lock; a lock the master decided for the cluster
 * locks the user here until then (a later lock already here is kept). The key is the user id.
 */
const lockouts: EntityHandler<LockoutRecord> = {
  schema: lockoutRecordSchema,
  file: 'state',
  secretFields: [],
  key: (r) => String(r.user_id),
  upsert({ state }, _key, r) {
    if (r.locked_until === undefined || r.locked_until === null) {
      state.run(state.q.deleteFrom('auth_state').where('user_id', '=', r.user_id));
      return;
    }
    state
      .prepare(
        `insert into auth_state (user_id, failures, locked_until, updated_at) values (?, 0, ?, ?)
           on conflict (user_id) do update set locked_until = max(coalesce(locked_until, 0), excluded.locked_until), updated_at = excluded.updated_at`,
      )
      .run(r.user_id, r.locked_until, Date.now());
  },
  remove({ state }, key) {
    state.run(state.q.deleteFrom('auth_state').where('user_id', '=', Number(key)));
  },
  read: () => undefined,
  scan: () => [],
};

const admins: EntityHandler<AdminRecord> = {
  schema: adminRecordSchema,
  file: 'config',
  secretFields: [],
  key: (r) => r.username,
  upsert({ db }, _key, r) {
    db.upsert('admins', r, 'username');
  },
  remove({ db }, key) {
    db.run(db.q.deleteFrom('admins').where('username', '=', key));
  },
  read({ db }, _key, key) {
    return db.first(db.q.selectFrom('admins').selectAll().where('username', '=', key));
  },
  *scan({ db }) {
    const page = db.prepare(`select * from admins where username > ? order by username limit ${SCAN_PAGE}`);
    for (const rows of pages('', (after) => page.all(after) as AdminRecord[], (row) => row.username)) yield* rows;
  },
};

const passkeys: EntityHandler<PasskeyRecord> = {
  schema: passkeyRecordSchema,
  file: 'config',
  secretFields: [],
  key: (r) => r.id,
  upsert({ db }, _key, r) {
    db.upsert('passkeys', { ...r, transports: json(r.transports), passwordless: r.passwordless ? 1 : 0 }, 'id');
  },
  remove({ db }, key) {
    db.run(db.q.deleteFrom('passkeys').where('id', '=', key));
  },
  read({ db }, _key, key) {
    const row = db.first(db.q.selectFrom('passkeys').selectAll().where('id', '=', key));
    return row && passkeyFromRow(row);
  },
  *scan({ db }) {
    const page = db.prepare(`select * from passkeys where id > ? order by id limit ${SCAN_PAGE}`);
    for (const rows of pages('', (after) => page.all(after) as Array<Selectable<DB['passkeys']>>, (row) => row.id)) yield* rows.map(passkeyFromRow);
  },
};

export function passkeyFromRow(row: Selectable<DB['passkeys']>): PasskeyRecord {
  return { ...row, transports: JSON.parse(row.transports) as PasskeyRecord['transports'], passwordless: row.passwordless === 1 };
}

export interface EntityRecords {
  user: UserRecord;
  token: TokenRecord;
  token_state: TokenStateRecord;
  group: GroupRecord;
  client: ClientRecord;
  hardware_token: HardwareTokenRecord;
  settings: Settings;
  lockout: LockoutRecord;
  admin: AdminRecord;
  passkey: PasskeyRecord;
}

export const ENTITY_HANDLERS: { [E in Entity]: EntityHandler<EntityRecords[E]> } = {
  user: users,
  token: tokens,
  token_state: tokenStates,
  group: groups,
  client: clients,
  hardware_token: hardwareTokens,
  settings,
  lockout: lockouts,
  admin: admins,
  passkey: passkeys,
};
