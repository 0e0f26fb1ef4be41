import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import {
  ReadOnlyReplicaError,
  type ChangeEntry,
  type ChangeOp,
  type Entity,
  type Settings,
} from '@otpgate/shared';
import { Database, StoreError } from './database.js';
import type { StateDB } from './state-schema.js';
import { moveLegacyState, stateMigrationProvider } from './state-migrations.js';
import { createKeyFile, loadKeyFile } from './key-file.js';
import { ENTITY_HANDLERS, SETTINGS_KEY, type EntityRecords } from './entity-handlers.js';
import { appendChange, changeHead, type ChangeHead } from './change-log.js';

export type NodeRole = 'master' | 'replica';

export const DATA_FILES = { database: 'otpgate.db', state: 'state.db', key: 'secret.key' } as const;

/** The state database's connection (state-schema.ts). */
export type StateDatabase = Database<StateDB>;

export interface StoreOpenOptions {
  /**
   * How long a write to the state database waits for another connection's lock, in ms. The RADIUS hot path keeps
   * this short and retries without blocking its thread (write-batcher.ts).
   */
  stateBusyTimeoutMs?: number;
  /** false: commits on this store's state connection never checkpoint (the main thread does; state-checkpoints.ts). */
  stateAutoCheckpoint?: boolean;
}

/** The key a change's log entry carries. */
function entityKey(change: Change): string {
  if (change.op === 'delete') return change.key;
  return (ENTITY_HANDLERS[change.entity]).key(change.data as never);
}

export type Change = {
  [E in Entity]: { entity: E; op: 'upsert'; data: EntityRecords[E] } | { entity: E; op: 'delete'; key: string };
}[Entity];

/**
 * A node's store: the configuration database (`db`: users, tokens, clients, settings and the change log), the state
 * database (`state`: what RADIUS writes per request), the key that seals its secrets, and its role. All changes to
 * replicated entities go through `commit`, which writes the tables and the change log in one transaction, and refuses
 * on a replica.
 */
export class Store {
  private cachedRole: NodeRole | undefined;
  private readonly listeners = new Set<() => void>();
  private notifyPending = false;
  /**
   * Whether accepted codes go into the change log: only when replicas follow this master (a new replica's snapshot
   * carries every step used before it). Set at open from the replica registry and by the replication API.
   */
  publishSteps = false;

  private constructor(
    readonly db: Database,
    readonly state: StateDatabase,
    readonly sealKey: Buffer,
    readonly dataDir: string,
  ) {}

  /** Both files, state first: moving an older node's state out of otpgate.db needs state.db's tables. */
  private static async openFiles(dataDir: string, options: StoreOpenOptions & { readonly?: boolean }): Promise<{ db: Database; state: StateDatabase }> {
    const statePath = join(dataDir, DATA_FILES.state);
    const readonly = options.readonly ?? false;
    if (readonly && !existsSync(statePath)) {
      throw new StoreError(`no state database at ${statePath}: start the node once ("otpgate serve") so it is created`);
    }
    if (!readonly && !existsSync(statePath)) writeFileSync(statePath, '', { mode: 0o600, flag: 'wx' });
    const state = await Database.open<StateDB>(statePath, { readonly, migrations: stateMigrationProvider, busyTimeoutMs: options.stateBusyTimeoutMs, autoCheckpoint: options.stateAutoCheckpoint });
    let db: Database;
    try {
      db = await Database.open(join(dataDir, DATA_FILES.database), { readonly });
      if (!readonly) moveLegacyState(db, statePath);
    } catch (err) {
      state.close();
      throw err;
    }
    return { db, state };
  }

  /** Make a new node's data folder: key file, database, role master. */
  static async create(dataDir: string): Promise<Store> {
    const dbPath = join(dataDir, DATA_FILES.database);
    if (existsSync(dbPath)) throw new StoreError(`${dbPath} already exists: this node is already initialised`);
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    const key = createKeyFile(join(dataDir, DATA_FILES.key));
    // created empty with mode 0600 first: SQLite gives its -wal and -shm files the database file's mode
    writeFileSync(dbPath, '', { mode: 0o600, flag: 'wx' });
    const { db, state } = await Store.openFiles(dataDir, {});
    const store = new Store(db, state, key, dataDir);
    store.setRole('master');
    store.setMeta('cluster_id', randomUUID());
    store.setMeta('created_at', new Date().toISOString());
    return store;
  }

  static async open(dataDir: string, options: StoreOpenOptions = {}): Promise<Store> {
    const dbPath = join(dataDir, DATA_FILES.database);
    if (!existsSync(dbPath)) {
      throw new StoreError(`no database at ${dbPath}: run "otpgate init" first (or check node.data_dir in the config)`);
    }
    const key = loadKeyFile(join(dataDir, DATA_FILES.key));
    const { db, state } = await Store.openFiles(dataDir, options);
    const store = new Store(db, state, key, dataDir);
    store.refreshPublishSteps();
    return store;
  }

  /**
   * A read-only view of a node's store, for work done beside the serving process (a worker thread building a
   * snapshot): no migrations, no writes.
   */
  static async openReadOnly(dataDir: string): Promise<Store> {
    const key = loadKeyFile(join(dataDir, DATA_FILES.key));
    const { db, state } = await Store.openFiles(dataDir, { readonly: true });
    return new Store(db, state, key, dataDir);
  }

  /** Whether replicas follow this master (another process may have enrolled one since the store was opened). */
  refreshPublishSteps(): void {
    this.publishSteps = this.db.first(this.db.q.selectFrom('replicas').select('name').where('revoked_at', 'is', null)) !== undefined;
  }

  getMeta(key: string): string | undefined {
    return this.db.first(this.db.q.selectFrom('node_meta').select('value').where('key', '=', key))?.value;
  }

  setMeta(key: string, value: string): void {
    this.db.run(
      this.db.q
        .insertInto('node_meta')
        .values({ key, value })
        .onConflict((oc) => oc.column('key').doUpdateSet({ value })),
    );
  }

  deleteMeta(key: string): void {
    this.db.run(this.db.q.deleteFrom('node_meta').where('key', '=', key));
  }

  /** Several of the node's own settings written together or not at all; `undefined` deletes one. */
  updateMeta(values: Readonly<Record<string, string | undefined>>): void {
    this.db.transaction(() => {
      for (const [key, value] of Object.entries(values)) {
        if (value === undefined) this.deleteMeta(key);
        else this.setMeta(key, value);
      }
    });
  }

  /** Cached: read on every accepted code, changed only by joining or promoting. */
  get role(): NodeRole {
    this.cachedRole ??= this.getMeta('role') === 'replica' ? 'replica' : 'master';
    return this.cachedRole;
  }

  /** Switch the role, and the settings that go with it (`meta`, as updateMeta takes them) in the same transaction. */
  setRole(role: NodeRole, meta: Readonly<Record<string, string | undefined>> = {}): void {
    this.updateMeta({ ...meta, role });
    this.cachedRole = role;
  }

  /** Throw the read-only error on a replica; every admin write calls this first. */
  assertWritable(): void {
    if (this.role === 'replica') throw new ReadOnlyReplicaError(this.getMeta('master_url') ?? 'the master');
  }

  /**
   * Apply changes and log them. The configuration tables and the log are written all or nothing; rows of the state
   * database (replay steps, unlocks) go first, in a transaction of their own on that file (see applyChanges).
   */
  commit(changes: readonly Change[]): ChangeEntry[] {
    this.assertWritable();
    const entries = this.applyChanges(changes, (c) =>
      this.logChange(c.op === 'delete' ? { entity: c.entity, op: 'delete', key: c.key, data: null } : { entity: c.entity, op: 'upsert', key: entityKey(c), data: c.data }),
    );
    this.notifyChanged();
    return entries;
  }

  /**
   * Write changes to their tables and record each with `log` (appending to this node's log, or storing the master's
   * entry as received), in two steps: first every row of the state database, in one transaction on that file; then
   * the configuration tables and every log entry, in one transaction on the configuration file. Never both files in
   * one transaction: the state file's lock is what RADIUS needs to answer, and a long configuration write (an import,
   * a snapshot) must not hold it. The state rows are idempotent (a step only moves forward, an unlock clears), so a
   * crash between the steps leaves a change applied without its entry, which the next attempt applies again.
   */
  applyChanges<T>(changes: readonly Change[], log: (change: Change) => T): T[] {
    const stateChanges = changes.filter((c) => ENTITY_HANDLERS[c.entity].file === 'state');
    if (stateChanges.length > 0) this.state.transaction(() => stateChanges.forEach((c) => this.applyRow(c)));
    return this.db.transaction(() =>
      changes.map((c) => {
        if (ENTITY_HANDLERS[c.entity].file === 'config') this.applyRow(c);
        return log(c);
      }),
    );
  }

  private applyRow(change: Change): void {
    const handler = ENTITY_HANDLERS[change.entity];
    if (change.op === 'delete') handler.remove(this, change.key);
    else handler.upsert(this, this.sealKey, change.data as never);
  }

  /** Be told (soon after, never inside the writing transaction) that the log moved in this process. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Counts changes made in this process, at once (listeners hear of them a moment later). */
  localChanges = 0;

  /**
   * Coalesced: one notification per event-loop turn, after the current transaction has committed. `cachesStale`
   * false: the writer already updated what it holds in memory (the hot path's own steps).
   */
  notifyChanged(cachesStale = true): void {
    if (cachesStale) this.localChanges++;
    if (this.notifyPending) return;
    this.notifyPending = true;
    setImmediate(() => {
      this.notifyPending = false;
      for (const l of this.listeners) l();
    });
  }

  /** Append to the change log without touching the tables (the caller already wrote them). */
  logChange(change: { entity: Entity; op: ChangeOp; key: string; data: unknown }): ChangeEntry {
    return appendChange(this.db, this.sealKey, change);
  }

  read<E extends Entity>(entity: E, key: string): EntityRecords[E] | undefined {
    return (ENTITY_HANDLERS[entity]).read(this, this.sealKey, key);
  }

  /** Every record of `entity`, in memory: for the small tables (clients, groups, settings); scan() for the rest. */
  readAll<E extends Entity>(entity: E): EntityRecords[E][] {
    return [...this.scan(entity)];
  }

  /** Every record of `entity`, in key order, read a page at a time (entity-handlers.ts). */
  scan<E extends Entity>(entity: E): Iterable<EntityRecords[E]> {
    return (ENTITY_HANDLERS[entity]).scan(this, this.sealKey);
  }

  /** How many users the node holds. */
  userCount(): number {
    return Number(this.db.first(this.db.q.selectFrom('users').select((eb) => eb.fn.countAll().as('n')))?.n ?? 0);
  }

  settings(): Settings {
    return this.read('settings', SETTINGS_KEY)!;
  }

  head(): ChangeHead {
    return changeHead(this.db);
  }

  /** The newest change's number: one indexed read, asked on every RADIUS request to notice changes at once. */
  headSeq(): number {
    const row = this.db.prepare('select seq from changes order by seq desc limit 1').get() as { seq: number } | undefined;
    return row ? row.seq : this.head().seq;
  }

  close(): void {
    this.db.close();
    this.state.close();
  }
}
