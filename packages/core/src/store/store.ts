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
import { createKeyFile, loadKeyFile } from './key-file.js';
import { ENTITY_HANDLERS, SETTINGS_KEY, type EntityRecords } from './entity-handlers.js';
import { appendChange, changeHead, type ChangeHead } from './change-log.js';

export type NodeRole = 'master' | 'replica';

export const DATA_FILES = { database: 'otpgate.db', key: 'secret.key' } as const;

export type Change = {
  [E in Entity]: { entity: E; op: 'upsert'; data: EntityRecords[E] } | { entity: E; op: 'delete'; key: string };
}[Entity];

/**
 * A node's store: the database, the key that seals its secrets, and its role. All changes to replicated entities go
 * through `commit`, which writes the tables and the change log in one transaction, and refuses on a replica.
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
    readonly sealKey: Buffer,
    readonly dataDir: string,
  ) {}

  /** Make a new node's data folder: key file, database, role master. */
  static async create(dataDir: string): Promise<Store> {
    const dbPath = join(dataDir, DATA_FILES.database);
    if (existsSync(dbPath)) throw new StoreError(`${dbPath} already exists: this node is already initialised`);
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    const key = createKeyFile(join(dataDir, DATA_FILES.key));
    // created empty with mode 0600 first: SQLite gives its -wal and -shm files the database file's mode
    writeFileSync(dbPath, '', { mode: 0o600, flag: 'wx' });
    const db = await Database.open(dbPath);
    const store = new Store(db, key, dataDir);
    store.setRole('master');
    store.setMeta('cluster_id', randomUUID());
    store.setMeta('created_at', new Date().toISOString());
    return store;
  }

  static async open(dataDir: string): Promise<Store> {
    const dbPath = join(dataDir, DATA_FILES.database);
    if (!existsSync(dbPath)) {
      throw new StoreError(`no database at ${dbPath}: run "otpgate init" first (or check node.data_dir in the config)`);
    }
    const key = loadKeyFile(join(dataDir, DATA_FILES.key));
    const store = new Store(await Database.open(dbPath), key, dataDir);
    store.publishSteps = store.db.first(store.db.q.selectFrom('replicas').select('name').where('revoked_at', 'is', null)) !== undefined;
    return store;
  }

  /**
   * A read-only view of a node's store, for work done beside the serving process (a worker thread building a
   * snapshot): no migrations, no writes.
   */
  static async openReadOnly(dataDir: string): Promise<Store> {
    const key = loadKeyFile(join(dataDir, DATA_FILES.key));
    return new Store(await Database.open(join(dataDir, DATA_FILES.database), { readonly: true }), key, dataDir);
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

  /** Cached: read on every accepted code, changed only by joining or promoting. */
  get role(): NodeRole {
    this.cachedRole ??= this.getMeta('role') === 'replica' ? 'replica' : 'master';
    return this.cachedRole;
  }

  setRole(role: NodeRole): void {
    this.setMeta('role', role);
    this.cachedRole = role;
  }

  /** Throw the read-only error on a replica; every admin write calls this first. */
  assertWritable(): void {
    if (this.role === 'replica') throw new ReadOnlyReplicaError(this.getMeta('master_url') ?? 'the master');
  }

  /** Apply changes and log them, all or nothing. */
  commit(changes: readonly Change[]): ChangeEntry[] {
    this.assertWritable();
    const entries = this.db.transaction(() => changes.map((c) => this.applyAndLog(c)));
    this.notifyChanged();
    return entries;
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

  /** Inside a caller's transaction (hot path batch): apply one change and append it to the log. */
  applyAndLog(change: Change): ChangeEntry {
    const handler = ENTITY_HANDLERS[change.entity] as (typeof ENTITY_HANDLERS)[Entity];
    if (change.op === 'delete') {
      handler.remove(this.db, change.key);
      return appendChange(this.db, this.sealKey, { entity: change.entity, op: 'delete', key: change.key, data: null });
    }
    const data = change.data as never;
    handler.upsert(this.db, this.sealKey, data);
    return appendChange(this.db, this.sealKey, { entity: change.entity, op: 'upsert', key: handler.key(data), data });
  }

  /** Append to the change log without touching the tables (the caller already wrote them). */
  logChange(change: { entity: Entity; op: ChangeOp; key: string; data: unknown }): ChangeEntry {
    return appendChange(this.db, this.sealKey, change);
  }

  read<E extends Entity>(entity: E, key: string): EntityRecords[E] | undefined {
    return (ENTITY_HANDLERS[entity] as (typeof ENTITY_HANDLERS)[E]).read(this.db, this.sealKey, key);
  }

  readAll<E extends Entity>(entity: E): EntityRecords[E][] {
    return (ENTITY_HANDLERS[entity] as (typeof ENTITY_HANDLERS)[E]).readAll(this.db, this.sealKey);
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
  }
}
