/**
 * The lockout across the cluster. Every node counts failures in its own state database and locks an account locally
 * at `max_failures`; a replica also reports what it counted (and a success that reset it) to the master, which adds
 * the counts of every node and, at the limit, locks the account for the whole cluster with a `lockout` entry in the
 * change log. A lock the master's own RADIUS threads set goes out the same way. So one node stops a burst after
 * max_failures, and a burst spread over N nodes gets at most about N × max_failures guesses before every node
 * refuses the account (within a report interval and a long poll: well under a second).
 */
import type { LockoutRecord, Settings } from '@otpgate/shared';
import type { Store } from './store.js';

export interface FailureReport {
  user_id: number;
  /** Failures counted on the replica since its last report. */
  failures: number;
  /** A success on the replica reset the count since its last report. */
  success: boolean;
}

/** Replica: what to tell the master about failures and successes here. */
export function unreportedFailures(store: Store, limit: number): FailureReport[] {
  return (
    store.state
      .prepare('select user_id, unreported_failures, unreported_success from auth_state where unreported_failures > 0 or unreported_success = 1 limit ?')
      .all(limit) as Array<{ user_id: number; unreported_failures: number; unreported_success: number }>
  ).map((r) => ({ user_id: r.user_id, failures: r.unreported_failures, success: r.unreported_success === 1 }));
}

/** Replica: the master has these; what was counted meanwhile stays to report. */
export function markFailuresReported(store: Store, reports: readonly FailureReport[]): void {
  if (reports.length === 0) return;
  const mark = store.state.prepare(
    'update auth_state set unreported_failures = max(0, unreported_failures - ?), unreported_success = case when ? then 0 else unreported_success end where user_id = ?',
  );
  store.state.transaction(() => {
    for (const r of reports) mark.run(r.failures, r.success ? 1 : 0, r.user_id);
  });
}

/**
 * Master: add a replica's counts to this node's. A success resets the count (unless locked); failures add up, a lock
 * that has ended starts the count afresh, and reaching `max_failures` locks the account here, to be published to every
 * node by publishLocks. Users that do not exist are ignored. Returns how many accounts this locked.
 */
export function recordReportedFailures(store: Store, reports: readonly FailureReport[], settings: Settings, now = Date.now()): number {
  if (reports.length === 0) return 0;
  const users = new Set(
    store.db.prepare('select id from users where id in (select value from json_each(?))').pluck().all(JSON.stringify(reports.map((r) => r.user_id))) as number[],
  );
  const reset = store.state.prepare('update auth_state set failures = 0, updated_at = ? where user_id = ? and (locked_until is null or locked_until <= ?)');
  const add = store.state.prepare(
    `insert into auth_state (user_id, failures, locked_until, updated_at) values (?, ?, null, ?)
       on conflict (user_id) do update set
         failures = case when locked_until is not null and locked_until <= excluded.updated_at then excluded.failures else failures + excluded.failures end,
         locked_until = case when locked_until is not null and locked_until <= excluded.updated_at then null else locked_until end,
         updated_at = excluded.updated_at
       returning failures, locked_until`,
  );
  const lock = store.state.prepare('update auth_state set locked_until = ?, lock_published = 0 where user_id = ?');
  const { max_failures: max, duration_seconds: duration } = settings.lockout;
  return store.state.transaction(() => {
    let locked = 0;
    for (const r of reports) {
      if (!users.has(r.user_id)) continue;
      if (r.success) reset.run(now, r.user_id, now);
      if (r.failures <= 0) continue;
      const row = add.get(r.user_id, Math.min(r.failures, 1_000_000), now) as { failures: number; locked_until: number | null };
      if (max > 0 && row.failures >= max && row.locked_until === null) {
        lock.run(now + duration * 1000, r.user_id);
        locked++;
      }
    }
    return locked;
  });
}

/** Master: put the locks set here and not yet published into the change log, so every node refuses the account. */
export function publishLocks(store: Store, now = Date.now()): number {
  const locks = store.state
    .prepare('select user_id, locked_until from auth_state where lock_published = 0 and locked_until > ? limit 1000')
    .all(now) as Array<{ user_id: number; locked_until: number }>;
  if (locks.length === 0) return 0;
  if (store.publishSteps) {
    store.db.transaction(() => {
      for (const l of locks) {
        const data: LockoutRecord = { user_id: l.user_id, locked_until: l.locked_until };
        store.logChange({ entity: 'lockout', op: 'upsert', key: String(l.user_id), data });
      }
    });
    store.notifyChanged(false);
  }
  const mark = store.state.prepare('update auth_state set lock_published = 1 where user_id = ? and locked_until = ?');
  store.state.transaction(() => {
    for (const l of locks) mark.run(l.user_id, l.locked_until);
  });
  return locks.length;
}
