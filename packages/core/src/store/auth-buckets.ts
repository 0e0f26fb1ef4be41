/**
 * The authentication log counted per 5 minutes (AUTH_BUCKET_MS), by result and reject reason, for the dashboards'
 * charts. Counting the log itself over 24 hours reads every row of the range: about a second at a million rows
 * (bench/auth-buckets.ts). So each node rolls its new log rows up into auth_buckets in the background, a chunk at a
 * time in the order of the log's ids, and a chart reads those few thousand rows plus the log rows written since the
 * last roll-up. The RADIUS threads write the log as before: nothing here is on the hot path.
 *
 * A replica sends the buckets that changed with its step reports; the master keeps each replica's in
 * replica_auth_buckets, under the name the replica's certificate was registered with, and charts each node. Both
 * tables keep BUCKET_RETENTION_MS (pruned by state-housekeeping.ts).
 */
import { AUTH_BUCKET_MS, authBucketCountSchema, type AuthBucketCount } from '@otpgate/shared';
import { LogLimiter, type Logger } from '../logger.js';
import { describeWriteError } from './store-health.js';
import { repeatInBackground, type RetentionJob } from './retention.js';
import type { Store } from './store.js';

/** What the charts show: the last 24 hours. */
export const TIMELINE_MS = 24 * 3600_000;
/** What the bucket tables keep: the charts' day and an hour's slack for a replica's late report. */
export const BUCKET_RETENTION_MS = TIMELINE_MS + 3600_000;
/** Log rows counted per transaction: a few ms of the state database's write lock. */
export const ROLLUP_CHUNK = 5000;
/** Log rows a chart counts itself beyond the roll-up; more only while the roll-up catches up (after an upgrade). */
const TAIL_LIMIT = 20_000;
const ROLLUP_INTERVAL_MS = 10_000;

const bucketOf = (column: string) => `${column} / ${AUTH_BUCKET_MS} * ${AUTH_BUCKET_MS}`;

type BucketRow = { bucket: number; result: AuthBucketCount['result']; reason: string; count: number };
const toCount = (r: BucketRow) => ({ bucket: r.bucket, result: r.result, reason: r.reason === '' ? null : r.reason, count: r.count }) as AuthBucketCount;

/**
 * The last log id counted. The first time, the log's rows of the last day are still to count (an older node's log
 * may hold months of them).
 */
function rolledUpTo(store: Store, now: number): number {
  const state = store.state;
  const last = state.prepare('select last_id from auth_log_rollup where id = 1').pluck().get() as number | undefined;
  if (last !== undefined) return last;
  const first = state.prepare('select id from auth_log where at >= ? order by at limit 1').pluck().get(now - TIMELINE_MS) as number | undefined;
  const start = first === undefined ? ((state.prepare('select max(id) from auth_log').pluck().get() as number | null) ?? 0) : first - 1;
  state.prepare('insert into auth_log_rollup (id, last_id) values (1, ?)').run(start);
  return start;
}

/**
 * Count up to `limit` log rows not counted yet into auth_buckets, in one transaction. Returns how many rows it
 * counted: fewer than `limit` means it has caught up.
 */
export function rollUpAuthLog(store: Store, now = Date.now(), limit = ROLLUP_CHUNK): number {
  const state = store.state;
  return state.transaction(() => {
    const after = rolledUpTo(store, now);
    const chunk = state.prepare('select count(*) as rows, max(id) as top from (select id from auth_log where id > ? order by id limit ?)').get(after, limit) as {
      rows: number;
      top: number | null;
    };
    if (chunk.top === null) return 0;
    // ids grow with each commit (one writer at a time), so a row never turns up behind the cursor later
    state
      .prepare(
        `insert into auth_buckets (bucket, result, reason, count, reported)
           select ${bucketOf('at')}, result, coalesce(reason, ''), count(*), 0 from auth_log where id > ? and id <= ? and at >= ? group by 1, 2, 3
         on conflict (bucket, result, reason) do update set count = count + excluded.count, reported = 0`,
      )
      .run(after, chunk.top, now - BUCKET_RETENTION_MS);
    state.prepare('update auth_log_rollup set last_id = ? where id = 1').run(chunk.top);
    return chunk.rows;
  });
}

/**
 * Roll the log up now and then every 10 seconds until stopped, a chunk per transaction with a turn of the event loop
 * between. A busy state database skips a run (tryWrite); a failing one is logged once a minute.
 */
export function scheduleAuthLogRollup(store: Store, logger: Logger, everyMs = ROLLUP_INTERVAL_MS): RetentionJob {
  const failures = new LogLimiter(60_000);
  return repeatInBackground(async (stopped) => {
    try {
      while (!stopped() && (store.state.tryWrite(() => rollUpAuthLog(store)) ?? 0) === ROLLUP_CHUNK) {
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    } catch (err) {
      if (failures.allow('rollup')) {
        logger.warn(
          { event: 'auth-rollup-failed', err: describeWriteError(err) },
          `counting the authentication log for the dashboard failed: ${describeWriteError(err)}; trying again (at most one line a minute)`,
        );
      }
    }
  }, everyMs);
}

/** This node's counts of the buckets from `since` on: the rolled-up ones and the log rows written since. */
export function localAuthBuckets(store: Store, since: number): AuthBucketCount[] {
  const rows = store.state
    .prepare(
      `select bucket, result, reason, sum(count) as count from (
         select bucket, result, reason, count from auth_buckets where bucket >= @since
         union all
         select ${bucketOf('at')}, result, coalesce(reason, ''), count(*) from
           (select at, result, reason from auth_log where id > coalesce((select last_id from auth_log_rollup where id = 1), 0) order by id limit @limit)
           where at >= @since group by 1, 2, 3)
       group by bucket, result, reason order by bucket`,
    )
    .all({ since: since - (since % AUTH_BUCKET_MS), limit: TAIL_LIMIT }) as BucketRow[];
  return rows.map(toCount);
}

/**
 * Replica: counts the master does not have yet, of the last day, as the report's schema takes them. A count the
 * schema refuses (a reason an older version logged) is never sent: it is marked reported, so it does not come back.
 */
export function unreportedAuthBuckets(store: Store, limit: number, now = Date.now()): AuthBucketCount[] {
  const rows = store.state
    .prepare('select bucket, result, reason, count from auth_buckets where reported = 0 and bucket >= ? order by bucket limit ?')
    .all(now - TIMELINE_MS, limit) as BucketRow[];
  const valid: AuthBucketCount[] = [];
  const refused: AuthBucketCount[] = [];
  for (const c of rows.map(toCount)) (authBucketCountSchema.safeParse(c).success ? valid : refused).push(c);
  markAuthBucketsReported(store, refused);
  return valid;
}

/** The master has these counts now; a bucket counted further meanwhile stays unreported. */
export function markAuthBucketsReported(store: Store, counts: readonly AuthBucketCount[]): void {
  if (counts.length === 0) return;
  const mark = store.state.prepare('update auth_buckets set reported = 1 where bucket = ? and result = ? and reason = ? and count = ?');
  store.state.transaction(() => {
    for (const c of counts) mark.run(c.bucket, c.result, c.reason ?? '', c.count);
  });
}

export interface BucketReportResult {
  stored: number;
  /** Counts of buckets outside the time the master keeps (a replica's clock far off): not stored. */
  refused: number;
}

/**
 * Master: a replica's counts, each replacing what it reported before for its bucket (a report sent twice counts
 * once). Only buckets of the kept day, up to one bucket ahead of this clock, are taken: with the schema's fixed
 * results and reasons, a replica holds at most a few thousand rows here, whatever it sends.
 */
export function recordReportedAuthBuckets(store: Store, replica: string, counts: readonly AuthBucketCount[], now = Date.now()): BucketReportResult {
  const result: BucketReportResult = { stored: 0, refused: 0 };
  if (counts.length === 0) return result;
  const upsert = store.state.prepare(
    `insert into replica_auth_buckets (bucket, replica, result, reason, count) values (?, ?, ?, ?, ?)
       on conflict (bucket, replica, result, reason) do update set count = excluded.count`,
  );
  store.state.transaction(() => {
    for (const c of counts) {
      if (c.bucket < now - BUCKET_RETENTION_MS || c.bucket > now + AUTH_BUCKET_MS) result.refused++;
      else result.stored += upsert.run(c.bucket, replica, c.result, c.reason ?? '', c.count).changes;
    }
  });
  return result;
}

/** Master: each replica's counts of the buckets from `since` on, as last reported, by replica name. */
export function replicaAuthBuckets(store: Store, since: number): Map<string, AuthBucketCount[]> {
  const rows = store.state
    .prepare('select replica, bucket, result, reason, count from replica_auth_buckets where bucket >= ? order by replica, bucket')
    .all(since - (since % AUTH_BUCKET_MS)) as Array<BucketRow & { replica: string }>;
  const byReplica = new Map<string, AuthBucketCount[]>();
  for (const r of rows) {
    let list = byReplica.get(r.replica);
    if (!list) byReplica.set(r.replica, (list = []));
    list.push(toCount(r));
  }
  return byReplica;
}

/** Delete the buckets older than the kept day, this node's and its replicas'. Returns how many rows went. */
export function pruneAuthBuckets(store: Store, now = Date.now()): number {
  const cutoff = now - BUCKET_RETENTION_MS;
  const state = store.state;
  return state.prepare('delete from auth_buckets where bucket < ?').run(cutoff).changes + state.prepare('delete from replica_auth_buckets where bucket < ?').run(cutoff).changes;
}
