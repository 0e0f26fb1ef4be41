import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AUTH_BUCKET_MS, stepReportSchema, type AuthBucketCount } from '@otpgate/shared';
import { localAuthBuckets, markAuthBucketsReported, recordReportedAuthBuckets, replicaAuthBuckets, rollUpAuthLog, unreportedAuthBuckets } from '../src/store/auth-buckets.js';
import { pruneState } from '../src/store/state-housekeeping.js';
import { createFixture, type Fixture } from './store-fixture.js';

const HOUR = 3600_000;
/** 12:00:00 UTC: a bucket's start. */
const NOW = Date.UTC(2030, 0, 1, 12);
const B = AUTH_BUCKET_MS;

let f: Fixture;
beforeEach(async () => {
  f = await createFixture();
});
afterEach(() => f.close());

/** Log `n` requests at `at` with this result and reason, as the RADIUS threads write them. */
function log(at: number, result: 'accept' | 'reject' | 'challenge' | 'drop', reason: string | null = null, n = 1): void {
  const insert = f.store.state.prepare(
    `insert into auth_log (at, node, username, client, source, nas_ip, calling_station, result, reason, backend, latency_us, detail, policy)
       values (?, 'otp1', 'alice', 'nas', '127.0.0.1:1812', '', '', ?, ?, null, 100, null, null)`,
  );
  f.store.state.transaction(() => {
    for (let i = 0; i < n; i++) insert.run(at, result, reason);
  });
}

const count = (bucket: number, result: AuthBucketCount['result'], reason: AuthBucketCount['reason'], n: number): AuthBucketCount => ({ bucket, result, reason, count: n });
const rolledUp = () => f.store.state.prepare('select bucket, result, reason, count, reported from auth_buckets order by bucket, result, reason').all();
/** How SQLite runs `sql` (its parameters as 0: these plans do not depend on the values). */
const plan = (sql: string) => (f.store.state.sqlite.prepare(`explain query plan ${sql.replace(/\?|@\w+/g, '0')}`).all() as Array<{ detail: string }>).map((r) => r.detail).join('; ');

describe('the auth log counted per 5 minutes', () => {
  it('counts each bucket by result and reject reason, each log row once', () => {
    log(NOW - 2 * B + 1, 'accept', null, 3);
    log(NOW - 2 * B + 299_999, 'reject', 'bad-code', 2);
    log(NOW - B, 'reject', 'bad-code');
    log(NOW - B + 5, 'reject', 'unknown-user');
    log(NOW - B + 6, 'drop', 'backend-error');
    expect(rollUpAuthLog(f.store, NOW)).toBe(8);
    log(NOW + 10, 'accept');
    log(NOW - B + 7, 'reject', 'bad-code'); // logged late (a batched write): counted in its own bucket
    expect(rollUpAuthLog(f.store, NOW + 20)).toBe(2);
    expect(rollUpAuthLog(f.store, NOW + 30)).toBe(0);
    expect(rolledUp()).toEqual([
      { bucket: NOW - 2 * B, result: 'accept', reason: '', count: 3, reported: 0 },
      { bucket: NOW - 2 * B, result: 'reject', reason: 'bad-code', count: 2, reported: 0 },
      { bucket: NOW - B, result: 'drop', reason: 'backend-error', count: 1, reported: 0 },
      { bucket: NOW - B, result: 'reject', reason: 'bad-code', count: 2, reported: 0 },
      { bucket: NOW - B, result: 'reject', reason: 'unknown-user', count: 1, reported: 0 },
      { bucket: NOW, result: 'accept', reason: '', count: 1, reported: 0 },
    ]);
  });

  it('counts a chunk per call, and the first time only the log of the last day', () => {
    log(NOW - 30 * 24 * HOUR, 'accept', null, 5); // a month old: never counted
    log(NOW - HOUR, 'reject', 'replay', 7);
    expect(rollUpAuthLog(f.store, NOW, 3)).toBe(3);
    expect(rollUpAuthLog(f.store, NOW, 3)).toBe(3);
    expect(rollUpAuthLog(f.store, NOW, 3)).toBe(1);
    expect(rolledUp()).toEqual([{ bucket: NOW - HOUR, result: 'reject', reason: 'replay', count: 7, reported: 0 }]);
  });

  it('gives a chart the rolled-up counts plus the log rows written since, each once', () => {
    log(NOW - HOUR, 'accept', null, 4);
    rollUpAuthLog(f.store, NOW);
    log(NOW - HOUR + 1, 'accept', null, 2);
    log(NOW, 'reject', 'locked');
    log(NOW - 25 * HOUR, 'reject', 'locked'); // before the chart's day
    const expected = [count(NOW - HOUR, 'accept', null, 6), count(NOW, 'reject', 'locked', 1)];
    const since = NOW - 24 * HOUR + B;
    expect(localAuthBuckets(f.store, since)).toEqual(expected);
    rollUpAuthLog(f.store, NOW);
    expect(localAuthBuckets(f.store, since)).toEqual(expected);
  });

  it('reads the log by its index on time or by id range, never the whole table', () => {
    log(NOW - 30 * 24 * HOUR, 'accept');
    log(NOW, 'accept');
    // every statement the roll-up and a chart run, as SQLite plans it
    const statements: string[] = [];
    const prepare = f.store.state.prepare.bind(f.store.state);
    f.store.state.prepare = (sql: string) => (statements.push(sql), prepare(sql));
    rollUpAuthLog(f.store, NOW);
    localAuthBuckets(f.store, NOW - 24 * HOUR);
    const plans = statements.filter((sql) => sql.includes('auth_log ')).map(plan);
    expect(plans.join('\n')).toMatch(/SEARCH auth_log USING (COVERING )?INDEX auth_log_at \(at>\?\)/); // the first day, once
    expect(plans.join('\n')).toContain('SEARCH auth_log USING INTEGER PRIMARY KEY (rowid>?)');
    for (const p of plans) expect(p).not.toMatch(/SCAN auth_log(?! USING)/);
  });
});

describe('a replica reporting its counts to the master', () => {
  it('sends what changed since its last report, and a bucket counted further again', () => {
    log(NOW - B, 'accept', null, 2);
    log(NOW, 'reject', 'bad-password');
    rollUpAuthLog(f.store, NOW);
    const first = unreportedAuthBuckets(f.store, 100, NOW);
    expect(first).toEqual([count(NOW - B, 'accept', null, 2), count(NOW, 'reject', 'bad-password', 1)]);
    // counted further between the report and the master's answer: sent again next time
    log(NOW + 1, 'reject', 'bad-password');
    rollUpAuthLog(f.store, NOW + 2);
    markAuthBucketsReported(f.store, first);
    expect(unreportedAuthBuckets(f.store, 100, NOW + 3)).toEqual([count(NOW, 'reject', 'bad-password', 2)]);
    markAuthBucketsReported(f.store, [count(NOW, 'reject', 'bad-password', 2)]);
    expect(unreportedAuthBuckets(f.store, 100, NOW + 4)).toEqual([]);
  });

  it('never sends a count the report schema refuses (a reason an older version logged), and leaves it behind', () => {
    log(NOW, 'reject', 'no-such-reason');
    log(NOW, 'reject', 'bad-code');
    rollUpAuthLog(f.store, NOW);
    const sent = unreportedAuthBuckets(f.store, 100, NOW);
    expect(sent).toEqual([count(NOW, 'reject', 'bad-code', 1)]);
    expect(stepReportSchema.safeParse({ steps: [], buckets: sent }).success).toBe(true);
    markAuthBucketsReported(f.store, sent);
    expect(unreportedAuthBuckets(f.store, 100, NOW)).toEqual([]);
  });

  it('master: keeps the last count of each bucket per replica (a report sent twice counts once), and only of the kept day', () => {
    const report = [count(NOW - B, 'accept', null, 5), count(NOW, 'reject', 'bad-code', 1)];
    expect(recordReportedAuthBuckets(f.store, 'r1', report, NOW)).toEqual({ stored: 2, refused: 0 });
    expect(recordReportedAuthBuckets(f.store, 'r1', report, NOW)).toEqual({ stored: 2, refused: 0 });
    expect(recordReportedAuthBuckets(f.store, 'r1', [count(NOW, 'reject', 'bad-code', 3)], NOW)).toEqual({ stored: 1, refused: 0 });
    expect(recordReportedAuthBuckets(f.store, 'r2', [count(NOW, 'accept', null, 9)], NOW)).toEqual({ stored: 1, refused: 0 });
    // a clock a day behind or an hour ahead: not kept
    const far = [count(NOW - 26 * HOUR, 'accept', null, 1), count(NOW + HOUR, 'accept', null, 1)];
    expect(recordReportedAuthBuckets(f.store, 'r2', far, NOW)).toEqual({ stored: 0, refused: 2 });
    expect(replicaAuthBuckets(f.store, NOW - 24 * HOUR)).toEqual(
      new Map([
        ['r1', [count(NOW - B, 'accept', null, 5), count(NOW, 'reject', 'bad-code', 3)]],
        ['r2', [count(NOW, 'accept', null, 9)]],
      ]),
    );
  });

  it('refuses a report whose counts are not of the fixed results and reasons, whole buckets, or bounded', () => {
    const parse = (bucket: Record<string, unknown>) => stepReportSchema.safeParse({ steps: [], buckets: [{ bucket: NOW, result: 'reject', reason: 'bad-code', count: 1, ...bucket }] }).success;
    expect(parse({})).toBe(true);
    expect(parse({ reason: 'made-up' })).toBe(false);
    expect(parse({ result: 'maybe' })).toBe(false);
    expect(parse({ bucket: NOW + 1 })).toBe(false);
    expect(parse({ count: -1 })).toBe(false);
    expect(parse({ count: 2_000_000_000 })).toBe(false);
    expect(parse({ node: 'someone-else' })).toBe(false);
    // an older replica sends no counts
    expect(stepReportSchema.parse({ steps: [] }).buckets).toEqual([]);
  });
});

describe('retention of the counts', () => {
  it('drops the buckets older than a day and an hour, this node\'s and the replicas\'', async () => {
    log(NOW - 26 * HOUR, 'accept');
    log(NOW - HOUR, 'accept');
    // as the node did the day before: the old row counted then
    rollUpAuthLog(f.store, NOW - 25 * HOUR);
    rollUpAuthLog(f.store, NOW);
    recordReportedAuthBuckets(f.store, 'r1', [count(NOW - 25 * HOUR, 'accept', null, 1)], NOW - 24 * HOUR);
    recordReportedAuthBuckets(f.store, 'r1', [count(NOW - HOUR, 'accept', null, 1)], NOW);
    expect(rolledUp()).toHaveLength(2);
    expect((await pruneState(f.store, NOW + HOUR)).buckets).toBe(2);
    expect(rolledUp()).toEqual([{ bucket: NOW - HOUR, result: 'accept', reason: '', count: 1, reported: 0 }]);
    expect(replicaAuthBuckets(f.store, 0)).toEqual(new Map([['r1', [count(NOW - HOUR, 'accept', null, 1)]]]));
  });
});

describe('the dashboard\'s timeline', () => {
  it('covers the last 24 hours in 288 buckets, the last one now\'s, with this node\'s counts and each replica\'s', () => {
    log(NOW - 24 * HOUR, 'accept'); // the bucket just before the chart's first
    log(NOW - 24 * HOUR + B, 'reject', 'bad-code');
    log(NOW + 1000, 'accept', null, 2);
    recordReportedAuthBuckets(f.store, 'r1', [count(NOW, 'challenge', null, 4)], NOW);
    const timeline = f.services.authLog.timeline(NOW + 2000);
    expect(timeline).toEqual({
      from: NOW - 287 * B,
      buckets: 288,
      local: [count(NOW - 287 * B, 'reject', 'bad-code', 1), count(NOW, 'accept', null, 2)],
      replicas: [{ replica: 'r1', counts: [count(NOW, 'challenge', null, 4)] }],
    });
  });
});
