import { OtpgateError, type ChangeEntry, type Entity, type SnapshotCounts, type SnapshotRecord } from '@otpgate/shared';
import type { ChangeHead } from './change-log.js';
import { insertEntry, resetLog } from './change-log.js';
import { ENTITY_HANDLERS } from './entity-handlers.js';
import { forgetReportedSteps } from './token-state.js';
import type { Change, Store } from './store.js';
import { readSnapshotFile, readSnapshotHeader } from './snapshot-file.js';

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

export interface AppliedSnapshot {
  head: ChangeHead;
  counts: SnapshotCounts;
}

/**
 * Replace this node's replicated state with a snapshot, atomically: users never see a half-applied state. The node's
 * own state (lockouts, the auth log) is in the state database and stays. One pass over the records (in
 * SNAPSHOT_ENTITIES order, as many as a million users), each validated as it comes, none kept once written:
 *   - the configuration tables are emptied and refilled in one transaction of that file, open while the records come;
 *   - the replay steps (the state database's records, a few numbers each) are kept aside and merged at the end, in a
 *     short transaction of the state file, never held open for the whole snapshot (RADIUS writes there): a step the
 *     master already knew takes the snapshot's value (gone when the snapshot has none: the master reset it, or the
 *     token is gone), a step used here and not yet reported keeps the highest;
 *   - then the configuration commits. The steps commit first, as before: a crash between the two leaves the old
 *     configuration with the master's steps, which is safe (a step only moves forward).
 * Any bad record, a record that does not fit (a user in a group the snapshot lacks) or a source that fails (a file
 * cut short) rolls both back: nothing of the snapshot is written. Rows of users the snapshot no longer has match
 * nothing and are pruned later.
 */
export function applySnapshot(store: Store, head: ChangeHead, records: Iterable<SnapshotRecord>): AppliedSnapshot {
  const db = store.db;
  const counts: SnapshotCounts = {};
  db.transaction(() => {
    // deleting everything first (children go with their parents) lets renamed or re-created records land cleanly
    for (const table of ['hardware_tokens', 'users', 'groups', 'clients', 'admins', 'settings'] as const) db.run(db.q.deleteFrom(table));
    const stateRecords: Array<{ entity: Entity; data: unknown }> = [];
    for (const { entity, data } of records) {
      const index = counts[entity] ?? 0;
      counts[entity] = index + 1;
      const record = validated(entity, data, `snapshot ${entity}[${index}]`);
      const handler = ENTITY_HANDLERS[entity];
      if (handler.file === 'state') stateRecords.push({ entity, data: record });
      else handler.upsert(store, store.sealKey, record);
    }
    resetLog(db, head);
    store.state.transaction(() => {
      forgetReportedSteps(store);
      for (const { entity, data } of stateRecords) ENTITY_HANDLERS[entity].upsert(store, store.sealKey, data as never);
    });
  });
  store.notifyChanged();
  return { head, counts };
}

/** applySnapshot from a snapshot file (snapshot-file.ts), read a chunk at a time. */
export function applySnapshotFile(store: Store, path: string, clusterId: string): AppliedSnapshot {
  const { head } = readSnapshotHeader(path, clusterId);
  return applySnapshot(store, head, readSnapshotFile(path, clusterId));
}
