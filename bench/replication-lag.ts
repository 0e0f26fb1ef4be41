/**
 * Replication lag under load, the driver and the analysis (bench/replication.sh runs them; see bench/README.md).
 *
 *   seed   DATA_DIR USERS            add the client 127.0.0.1/testing123 and USERS users (code-only, no password), each
 *                                   with a TOTP token, to a master's data dir (before `otpgate serve` runs)
 *   drive  DATA_DIR RATE SECONDS     make RATE changes per second for SECONDS on the master's store, in this process,
 *                                   while the master's `otpgate serve` runs: user display-name changes (80%), token
 *                                   adds (10%) and removals (10%), through the core services, one commit each. Prints
 *                                   one JSON line: {"first":N,"last":M,...} (the change numbers it made)
 *   report MASTER_DATA_DIR REPLICA_LOG FIRST LAST
 *                                   per change FIRST..LAST: the time from its commit on the master (the change entry's
 *                                   `at`, read from the master's log) to its apply on the replica (the `time` of the
 *                                   replica's `replication-applied` line whose batch holds it, written right after the
 *                                   batch's transaction committed). Prints p50/p99/max and one JSON line.
 *
 * A second process writing the master's SQLite file is what the CLI does for every admin change: the master notices
 * it within 50 ms (its replication API polls the log head while replicas wait), so that delay is part of the figure.
 */
import { readFileSync } from 'node:fs';
import { Store, createLogger, createServices, loadDictionary, type Actor } from '@otpgate/core';
import { quantile } from './quantile.js';

const actor: Actor = { name: 'bench', source: 'bench/replication-lag' };
const [command, ...args] = process.argv.slice(2);

function usage(): never {
  console.error('usage: replication-lag.js seed DATA_DIR USERS | drive DATA_DIR RATE SECONDS | report MASTER_DATA_DIR REPLICA_LOG FIRST LAST');
  process.exit(2);
}

async function open(dataDir: string) {
  const store = await Store.open(dataDir);
  // warn: the admin log line each change makes would be noise
  const services = createServices({ store, dictionary: loadDictionary([]), logger: createLogger('warn', 'bench-lag', process.stderr) });
  return { store, services };
}

async function seed(dataDir: string, users: number): Promise<void> {
  const { store, services } = await open(dataDir);
  try {
    services.clients.add({ name: 'bench', address: '127.0.0.1', secret: 'testing123' }, actor);
    for (let i = 0; i < users; i++) {
      await services.users.add({ username: `user${i}`, password: null, auth_mode: 'code-only' }, actor);
      services.tokens.add(`user${i}`, { label: 'bench' }, actor);
    }
    console.error(`  seeded ${users} users with a TOTP token each; master at change ${store.head().seq}`);
  } finally {
    store.close();
  }
}

/** A deterministic pseudo-random sequence, so two runs make the same changes. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function drive(dataDir: string, rate: number, seconds: number): Promise<void> {
  const { store, services } = await open(dataDir);
  const users = (store.db.prepare('select username from users order by id').all() as Array<{ username: string }>).map((u) => u.username);
  if (users.length === 0) throw new Error(`${dataDir} holds no users: seed it first`);
  const random = prng(4);
  const added: number[] = [];
  const counts = { update: 0, token_add: 0, token_remove: 0 };
  const total = Math.round(rate * seconds);
  const interval = 1000 / rate;
  const first = store.head().seq + 1;
  let late = 0;
  let maxLate = 0;
  let commitMs = 0;
  const started = performance.now();
  try {
    for (let i = 0; i < total; i++) {
      // an absolute schedule: a slow commit does not push the later ones back, so the rate holds
      const due = started + i * interval;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      else if (-wait > maxLate) maxLate = -wait;
      if (wait < -interval) late++;
      const pick = random();
      const user = users[Math.floor(random() * users.length)]!;
      const t0 = performance.now();
      if (pick < 0.1) {
        added.push(services.tokens.add(user, { label: `bench ${i}` }, actor).token.id);
        counts.token_add++;
      } else if (pick < 0.2 && added.length > 0) {
        services.tokens.remove(added.splice(Math.floor(random() * added.length), 1)[0]!, actor);
        counts.token_remove++;
      } else {
        services.users.update(user, { display_name: `Bench User ${i}` }, actor);
        counts.update++;
      }
      commitMs += performance.now() - t0;
    }
    const secs = (performance.now() - started) / 1000;
    const last = store.head().seq;
    const n = last - first + 1;
    console.log(
      JSON.stringify({
        first,
        last,
        changes: n,
        seconds: Number(secs.toFixed(2)),
        rate: Number((n / secs).toFixed(1)),
        ...counts,
        mean_commit_ms: Number((commitMs / total).toFixed(2)),
        late_ticks: late,
        max_late_ms: Number(maxLate.toFixed(1)),
      }),
    );
  } finally {
    store.close();
  }
}

interface Applied {
  from: number;
  to: number;
  at: number;
  lag_ms: number;
}


async function report(masterDir: string, replicaLog: string, first: number, last: number): Promise<void> {
  const batches: Applied[] = [];
  for (const line of readFileSync(replicaLog, 'utf8').split('\n')) {
    if (!line.includes('"replication-applied"')) continue;
    const l = JSON.parse(line) as { time: string; from: number; to: number; lag_ms: number };
    batches.push({ from: l.from, to: l.to, at: Date.parse(l.time), lag_ms: l.lag_ms });
  }
  const appliedAt = new Map<number, number>();
  for (const b of batches) for (let s = b.from; s <= b.to; s++) appliedAt.set(s, b.at);
  const store = await Store.open(masterDir);
  const rows = store.db.prepare('select seq, at from changes where seq between ? and ? order by seq').all(first, last) as Array<{ seq: number; at: number }>;
  store.close();
  const lags: number[] = [];
  const missing: number[] = [];
  for (const r of rows) {
    const applied = appliedAt.get(r.seq);
    if (applied === undefined) missing.push(r.seq);
    else lags.push(applied - r.at);
  }
  lags.sort((a, b) => a - b);
  const inRange = batches.filter((b) => b.to >= first && b.from <= last);
  const batchLags = inRange.map((b) => b.lag_ms).sort((a, b) => a - b);
  const result = {
    changes: rows.length,
    applied: lags.length,
    missing: missing.length,
    p50_ms: quantile(lags, 0.5),
    p99_ms: quantile(lags, 0.99),
    max_ms: lags.at(-1) ?? NaN,
    mean_ms: Number((lags.reduce((a, b) => a + b, 0) / Math.max(1, lags.length)).toFixed(1)),
    batches: inRange.length,
    mean_batch: Number((rows.length / Math.max(1, inRange.length)).toFixed(2)),
    // the replica's own figure, for the last entry of each batch (its log's lag_ms)
    batch_last_p99_ms: quantile(batchLags, 0.99),
  };
  console.log(
    `  lag, commit on the master -> applied on the replica, per change (${result.applied}/${result.changes} changes` +
      `${missing.length ? `, ${missing.length} never applied: first ${missing[0]}` : ''}): ` +
      `p50 ${result.p50_ms} ms, p99 ${result.p99_ms} ms, max ${result.max_ms} ms, mean ${result.mean_ms} ms; ` +
      `${result.batches} batches (${result.mean_batch} changes each on average)`,
  );
  console.log(JSON.stringify(result));
}

const num = (s: string | undefined) => {
  const n = Number(s);
  if (s === undefined || !Number.isFinite(n) || n < 0) usage();
  return n;
};

if (command === 'seed' && args.length === 2) await seed(args[0]!, num(args[1]));
else if (command === 'drive' && args.length === 3) await drive(args[0]!, num(args[1]), num(args[2]));
else if (command === 'report' && args.length === 4) await report(args[0]!, args[1]!, num(args[2]), num(args[3]));
else usage();
