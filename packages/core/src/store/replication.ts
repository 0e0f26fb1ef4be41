import { OtpgateError, SNAPSHOT_ENTITIES, type ChangeEntry, type Entity, type Snapshot } from '@otpgate/shared';
import type { ChangeHead } from './change-log.js';
import { insertEntry, resetLog } from './change-log.js';
import { ENTITY_HANDLERS } from './entity-handlers.js';
import { forgetReportedSteps } from './token-state.js';
import type { Change, Store } from './store.js';

/** A record from the master that does not fit this node's schema. */
export class ReplicationDataError extends OtpgateError {
  constructor(message: string) {
    super('replication-data', message);
  }
}

function validated(entity: Entity, data: unknown, where: string): never {
  const result = ENTITY_HANDLERS[entity].schema.safeParse(data);
  if (!result.success) {
    throw new ReplicationDataError(`${where}: ${entity} record is invalid (${result.error.issues[0]?.path.join('.') ?? ''}: ${result.error.issues[0]?.message ?? ''})`);
  }
  return result.data as never;
}

/**
 * Apply entries received from the master and keep them in this node's log, so the log mirrors the master's: the
 * configuration tables and the log in one transaction, replay steps and unlocks just before in the state database
 * (Store.applyChanges). The caller has verified signature and chain.
 */
export function applyEntries(store: Store, entries: readonly ChangeEntry[]): void {
  const changes = entries.map(
    (e): Change => (e.op === 'delete' ? { entity: e.entity, op: 'delete', key: e.key } : { entity: e.entity, op: 'upsert', data: validated(e.entity, e.data, `entry ${e.seq}`) }) as Change,
  );
  const bySeq = new Map(changes.map((c, i) => [c, entries[i]!]));
  store.applyChanges(changes, (c) => insertEntry(store.db, store.sealKey, bySeq.get(c)!));
  store.notifyChanged();
}

/**
 * Replace this node's replicated state with a snapshot, atomically: users never see a half-applied state. The node's
 * own state (lockouts, the auth log) is in the state database and stays. Replay steps are merged first, in one
 * transaction of that file: a step the master already knew takes the snapshot's value (gone when the snapshot has
 * none: the master reset it, or the token is gone), a step used here and not yet reported keeps the highest. Rows of
 * users the snapshot no longer has match nothing and are pruned later.
 */
export function applySnapshot(store: Store, snapshot: Pick<Snapshot, 'records' | 'head'>): void {
  const records = SNAPSHOT_ENTITIES.map((entity) => ({
    entity,
    data: (snapshot.records[entity] ?? []).map((r, i) => validated(entity, r, `snapshot ${entity}[${i}]`)),
  }));
  const stateRecords = records.filter((r) => ENTITY_HANDLERS[r.entity].file === 'state');
  store.state.transaction(() => {
    forgetReportedSteps(store);
    for (const { entity, data } of stateRecords) for (const record of data) ENTITY_HANDLERS[entity].upsert(store, store.sealKey, record as never);
  });
  const db = store.db;
  db.transaction(() => {
    // deleting everything first (children go with their parents) lets renamed or re-created records land cleanly
    for (const table of ['hardware_tokens', 'users', 'groups', 'clients', 'admins', 'settings'] as const) db.run(db.q.deleteFrom(table));
    for (const { entity, data } of records) {
      const handler = ENTITY_HANDLERS[entity];
      if (handler.file === 'config') for (const record of data) handler.upsert(store, store.sealKey, record as never);
    }
    resetLog(db, snapshot.head as ChangeHead);
  });
  store.notifyChanged();
}
