/**
 * What the dashboard's chart costs with ROWS authentication log rows in the last 24 hours (a million: about 12
 * requests a second all day) plus OLD rows from before: counting the log itself for the day (one indexed range scan
 * on `at`, grouped in SQL: the anchor), the node's background roll-up catching up with all of it (as after an
 * upgrade) and its longest transaction, and the chart's read once rolled up, with TAIL rows logged since the last
 * roll-up (10 s of traffic at most, normally). Medians of RUNS runs, warm cache.
 *
 * Usage: node bench/results/build/auth-buckets.js [ROWS=1000000] [OLD=1000000] [TAIL=2000] [RUNS=5]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AUTH_BUCKET_MS, REJECT_REASONS } from '@otpgate/shared';
import { ROLLUP_CHUNK, Store, TIMELINE_MS, createLogger, createServices, loadDictionary, rollUpAuthLog } from '@otpgate/core';

const [rowsArg = '1000000', oldArg = '1000000', tailArg = '2000', runsArg = '5'] = process.argv.slice(2);
const ROWS = Number(rowsArg);
const OLD = Number(oldArg);
const TAIL = Number(tailArg);
const RUNS = Number(runsArg);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
function time(fn: () => unknown): number {
  const start = performance.now();
  fn();
  return performance.now() - start;
}

const dir = mkdtempSync(join(tmpdir(), 'otpgate-bench-buckets-'));
const store = await Store.create(join(dir, 'data'));
try {
  const now = Date.now();
  const state = store.state;
  const insert = state.prepare(
    `insert into auth_log (at, node, username, client, source, nas_ip, calling_station, result, reason, backend, latency_us, detail, policy)
       values (?, 'otp1', ?, 'nas', '192.0.2.1:1812', '', '', ?, ?, 'local', 900, null, null)`,
  );
  // one in five rejected, over the reasons in turn; the rows of a day spread evenly over it
  const row = (at: number, i: number) => insert.run(at, `user${i % 20_000}`, i % 5 === 0 ? 'reject' : 'accept', i % 5 === 0 ? REJECT_REASONS[i % 7] : null);
  state.transaction(() => {
    for (let i = 0; i < OLD; i++) row(now - 2 * TIMELINE_MS + Math.floor((i / OLD) * TIMELINE_MS), i);
    for (let i = 0; i < ROWS; i++) row(now - TIMELINE_MS + Math.floor((i / ROWS) * (TIMELINE_MS - 60_000)), i);
  });
  const services = createServices({ store, dictionary: loadDictionary([]), logger: createLogger('silent', 'bench') });
  const since = now - TIMELINE_MS;
  const direct = state.prepare(
    `select at / ${AUTH_BUCKET_MS} as bucket, result, reason, count(*) as n from auth_log where at >= ? group by bucket, result, reason`,
  );
  const plan = (state.sqlite.prepare(`explain query plan ${direct.source}`).all(since) as Array<{ detail: string }>).map((r) => r.detail).join('; ');
  const anchor = median(Array.from({ length: RUNS }, () => time(() => direct.all(since))));

  const chunks: number[] = [];
  const catchUp = time(() => {
    for (let n = ROLLUP_CHUNK; n === ROLLUP_CHUNK; ) chunks.push(time(() => (n = rollUpAuthLog(store, now))));
  });
  state.transaction(() => {
    for (let i = 0; i < TAIL; i++) row(now - 30_000 + i, i);
  });
  const read = median(Array.from({ length: RUNS }, () => time(() => services.authLog.timeline(now))));
  const rolled = (state.prepare('select count(*) as n from auth_buckets').get() as { n: number }).n;

  const ms = (x: number) => `${x.toFixed(1)} ms`;
  console.log(`command: node bench/results/build/auth-buckets.js ${ROWS} ${OLD} ${TAIL} ${RUNS}`);
  console.log(`${ROWS} auth log rows in the last 24 hours, ${OLD} older; medians of ${RUNS} runs`);
  console.log(`anchor: counting the log itself for the day (${plan}): ${ms(anchor)}`);
  console.log(
    `roll-up catching up with the whole day: ${ms(catchUp)} in ${chunks.length} transactions of ${ROLLUP_CHUNK} rows, ` +
      `the longest ${ms(Math.max(...chunks))} (${rolled} bucket rows)`,
  );
  console.log(`chart read (rolled-up buckets + ${TAIL} rows since the roll-up): ${ms(read)}, ${(anchor / read).toFixed(0)}x faster than the anchor`);
} finally {
  store.close();
  rmSync(dir, { recursive: true, force: true });
}
