import { OtpgateError, SNAPSHOT_ENTITIES, type ChangeEntry, type Entity, type Snapshot } from '@otpgate/shared';
import type { ChangeHead } from './change-log.js';
import { insertEntry, resetLog } from './change-log.js';
import { ENTITY_HANDLERS } from './entity-handlers.js';
import type { Store } from './store.js';

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
 * Apply entries received from the master, in one transaction, and keep them in this node's log so the log mirrors
 * the master's. The caller has verified signature and chain.
 */
export function applyEntries(store: Store, entries: readonly ChangeEntry[]): void {
  const checked = entries.map((e) => ({ entry: e, data: e.op === 'delete' ? null : validated(e.entity, e.data, `entry ${e.seq}`) }));
  store.db.transaction(() => {
    for (const { entry, data } of checked) {
      const handler = ENTITY_HANDLERS[entry.entity];
      if (entry.op === 'delete') handler.remove(store.db, entry.key);
      else handler.upsert(store.db, store.sealKey, data as never);
      insertEntry(store.db, store.sealKey, entry);
    }
  });
  store.notifyChanged();
}

/**
 * Replace this node's replicated state with a snapshot, atomically: users never see a half-applied state. What is
 * the node's own survives for the records that still exist: replay steps (max with the snapshot's) and lockouts.
 */
export function applySnapshot(store: Store, snapshot: Pick<Snapshot, 'records' | 'head'>): void {
  const records = SNAPSHOT_ENTITIES.map((entity) => ({
    entity,
    data: (snapshot.records[entity] ?? []).map((r, i) => validated(entity, r, `snapshot ${entity}[${i}]`)),
  }));
  const db = store.db;
  db.transaction(() => {
    const steps = db.all(db.q.selectFrom('token_state').selectAll());
    const lockouts = db.all(db.q.selectFrom('auth_state').selectAll());
    // deleting everything first (children go with their parents) lets renamed or re-created records land cleanly
    for (const table of ['hardware_tokens', 'users', 'groups', 'clients', 'admins', 'settings'] as const) db.run(db.q.deleteFrom(table));
    for (const { entity, data } of records) {
      const handler = ENTITY_HANDLERS[entity];
      for (const record of data) handler.upsert(db, store.sealKey, record as never);
    }
    const restoreStep = db.prepare(
      `insert into token_state (token_id, last_step, drift, updated_at, reported) select ?, ?, ?, ?, ? where exists (select 1 from tokens where id = ?)
         on conflict (token_id) do update set last_step = excluded.last_step, drift = excluded.drift, reported = excluded.reported
         where token_state.last_step < excluded.last_step`,
    );
    for (const s of steps) restoreStep.run(s.token_id, s.last_step, s.drift, s.updated_at, s.reported, s.token_id);
    const restoreLockout = db.prepare(
      'insert into auth_state (user_id, failures, locked_until, updated_at) select ?, ?, ?, ? where exists (select 1 from users where id = ?)',
    );
    for (const l of lockouts) restoreLockout.run(l.user_id, l.failures, l.locked_until, l.updated_at, l.user_id);
    resetLog(db, snapshot.head as ChangeHead);
  });
  store.notifyChanged();
}
