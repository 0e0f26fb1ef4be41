/**
 * A master with many users and one fresh replica, measured (issue 14; bench/scale.sh prepares them and runs this, see
 * bench/README.md). In order:
 *   1. the master: `otpgate serve` spawned; time to its first RADIUS answer (radclient, a code-only bench user, sent
 *      again until answered), its RSS then; time until every RADIUS thread has warmed its user cache (the
 *      `user-cache-warm` debug lines), its RSS then and its peak so far;
 *   2. the admin UI users pages on the master: first page, a middle page, a search with one match, a search with
 *      many (median and p95 of REQUESTS requests after WARMUP);
 *   3. the replica: `otpgate serve` spawned on a replica that joined and never synced; time to its snapshot and to its
 *      first RADIUS answer, its peak RSS (VmHWM) then and once its cache is warm; the master's peak RSS after it built
 *      and sent the snapshot;
 *   4. SIGTERM to each, and how long each took to exit.
 * Every RSS is the whole process (main thread, RADIUS threads, snapshot threads), sampled from /proc/PID/status.
 *
 * Usage: node scale.js CLI_JS MASTER_DIR REPLICA_DIR USERS_CSV [REQUESTS=100] [WARMUP=10]   (admin password on stdin)
 *   each DIR holds otpgate.yaml (log level debug); the node's log goes to DIR/serve.log
 * Prints the figures, then one JSON line.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync, readSync, openSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { ask, procStatus } from './radius-probe.js';
import { AdminSession, pageLine, type PageTimes } from './ui-session.js';
import { errorMessage } from '@otpgate/shared';

const [cli, masterDir, replicaDir, usersCsv, requestsArg = '100', warmupArg = '10'] = process.argv.slice(2);
if (!cli || !masterDir || !replicaDir || !usersCsv) {
  console.error('usage: scale.js CLI_JS MASTER_DIR REPLICA_DIR USERS_CSV [REQUESTS] [WARMUP]  (admin password on stdin)');
  process.exit(2);
}
const TIMEOUT_MS = Number(process.env.SCALE_TIMEOUT_S ?? 1800) * 1000;
const MiB = (kb: number | null | undefined) => (kb === null || kb === undefined ? null : Math.round(kb / 1024));

/** The first users of the CSV gen.mjs wrote (username,password,secret), without reading a million lines. */
function firstUsers(path: string, n: number): Array<{ username: string; secret: string }> {
  const fd = openSync(path, 'r');
  const buf = Buffer.alloc(64 * 1024);
  const got = readSync(fd, buf, 0, buf.length, 0);
  closeSync(fd);
  return buf
    .subarray(0, got)
    .toString('utf8')
    .split('\n')
    .slice(1, n + 1)
    .map((line) => {
      const [username, , secret] = line.split(',');
      return { username: username!, secret: secret! };
    });
}

interface LogLine {
  level: string;
  msg: string;
  time?: string;
  [field: string]: unknown;
}

/** A node started with `otpgate serve`: its log lines as they come, with the time each was seen. */
class RunningNode {
  readonly child: ChildProcess;
  readonly started = performance.now();
  private readonly lines: Array<{ at: number; line: LogLine }> = [];
  private waiters: Array<() => void> = [];
  exitCode: number | null | undefined;
  exitedAt: number | undefined;

  constructor(
    readonly name: string,
    dir: string,
  ) {
    const log = createWriteStream(join(dir, 'serve.log'), { flags: 'a' });
    this.child = spawn(process.execPath, [cli!, '-c', join(dir, 'otpgate.yaml'), 'serve'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const onLine = (text: string) => {
      let line: LogLine;
      try {
        line = JSON.parse(text) as LogLine;
      } catch {
        line = { level: 'raw', msg: text };
      }
      this.lines.push({ at: performance.now(), line });
      if (line.level === 'error' || line.level === 'fatal' || line.level === 'raw') console.error(`  ${name}: ${text.slice(0, 400)}`);
      this.wake();
    };
    for (const stream of [this.child.stdout!, this.child.stderr!]) {
      stream.on('data', (d: Buffer) => log.write(d));
      createInterface({ input: stream, crlfDelay: Infinity }).on('line', onLine);
    }
    this.child.on('exit', (code) => {
      this.exitCode = code;
      this.exitedAt = performance.now();
      log.end();
      this.wake();
    });
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Milliseconds since the spawn. */
  since(at = performance.now()): number {
    return Math.round(at - this.started);
  }

  /** The `count`th line matching `match` and when it was seen; throws once the node exits or the time is up. */
  async waitFor(what: string, match: (l: LogLine) => boolean, count = 1, timeoutMs = TIMEOUT_MS): Promise<{ at: number; line: LogLine }> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const found = this.lines.filter((l) => match(l.line));
      if (found.length >= count) return found[count - 1]!;
      if (this.exitCode !== undefined) throw new Error(`${this.name} exited (status ${this.exitCode}) before ${what}`);
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`${this.name}: no ${what} within ${Math.round(timeoutMs / 1000)} s`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 1000));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** The node's RADIUS port (its first "RADIUS listening" line) once it listens. */
  async radiusPort(): Promise<number> {
    const { line } = await this.waitFor('"RADIUS listening"', (l) => l.msg === 'RADIUS listening');
    return Number(/:(\d+)$/.exec(String(line.listen))![1]);
  }

  /** Send an Access-Request for `user` until one is answered; the answer and when. */
  async firstAnswer(user: { username: string; secret: string }): Promise<{ code: string; ms: number; tries: number }> {
    const port = await this.radiusPort();
    for (let tries = 1; this.exitCode === undefined; tries++) {
      const answer = ask(port, user.username, user.secret);
      if (answer.code !== null) return { code: answer.code, ms: this.since(), tries };
    }
    throw new Error(`${this.name} exited (status ${this.exitCode}) before answering RADIUS`);
  }

  /** Once every RADIUS thread has filled its user cache (as far as its limit): when, from the spawn. */
  async warmed(): Promise<number> {
    const started = await this.waitFor('"otpgate node started"', (l) => l.msg === 'otpgate node started');
    const threads = Number(started.line.workers ?? 1);
    const { at } = await this.waitFor(`${threads} "user-cache-warm" lines`, (l) => l.event === 'user-cache-warm', threads);
    return this.since(at);
  }

  rss(): number | null {
    return MiB(procStatus(this.pid, 'VmRSS'));
  }

  peak(): number | null {
    return MiB(procStatus(this.pid, 'VmHWM'));
  }

  /** SIGTERM, and the milliseconds until the process is gone. */
  async stop(): Promise<number> {
    if (this.exitCode !== undefined) return 0;
    const sent = performance.now();
    this.child.kill('SIGTERM');
    await new Promise<void>((resolve) => (this.exitCode !== undefined ? resolve() : this.child.once('exit', () => resolve())));
    return Math.round(this.exitedAt! - sent);
  }
}

const [masterUser, replicaUser] = firstUsers(usersCsv, 2) as [{ username: string; secret: string }, { username: string; secret: string }];
const adminPassword = readFileSync(0, 'utf8').trim();
const requests = Number(requestsArg);
const warmup = Number(warmupArg);
const result: Record<string, unknown> = {};
const nodes: RunningNode[] = [];

async function main(): Promise<void> {
  // --- 1. the master --------------------------------------------------------------------------------------------
  const master = new RunningNode('master', masterDir!);
  nodes.push(master);
  const mAnswer = await master.firstAnswer(masterUser);
  result.master_first_answer_ms = mAnswer.ms;
  result.master_first_answer = mAnswer.code;
  result.master_rss_at_answer_mib = master.rss();
  console.log(`  master: first RADIUS answer (${mAnswer.code}) ${mAnswer.ms} ms after spawn; RSS then ${result.master_rss_at_answer_mib} MiB`);
  result.master_warm_ms = await master.warmed();
  result.master_rss_warm_mib = master.rss();
  result.master_peak_warm_mib = master.peak();
  console.log(`  master: user caches warm ${result.master_warm_ms} ms after spawn; RSS ${result.master_rss_warm_mib} MiB, peak so far ${result.master_peak_warm_mib} MiB`);

  // --- 2. the admin UI users pages ------------------------------------------------------------------------------
  const admin = await master.waitFor('"admin UI listening (HTTPS)"', (l) => l.msg === 'admin UI listening (HTTPS)');
  const session = await AdminSession.signIn(`https://${String(admin.line.listen)}`, join(masterDir!, 'data', 'admin', 'tls.crt'), 'admin', adminPassword);
  const total = await session.countOf('/users');
  const pages: Array<[string, string]> = [
    ['list, first page', '/users'],
    [`list, middle page`, `/users?page=${Math.max(1, Math.ceil(total / 100))}`],
    [`search, one match`, `/users?q=user${total - 1}`],
    ['search, many matches', '/users?q=user1'],
  ];
  const ui: PageTimes[] = [];
  console.log(`  admin UI users pages (${total} users; ${requests} requests each after ${warmup}):`);
  for (const [label, path] of pages) {
    const r = await session.time(label, path, requests, warmup);
    ui.push(r);
    console.log(`  ${pageLine(r)}`);
  }
  await session.close();
  result.ui = ui;

  // --- 3. a fresh replica ---------------------------------------------------------------------------------------
  const masterPeakBefore = master.peak();
  const replica = new RunningNode('replica', replicaDir!);
  nodes.push(replica);
  // the replica's memory is sampled as it goes, to tell the snapshot's part from the warm cache's
  let replicaPeakAtSnapshot: number | null = null;
  const snapshot = replica.waitFor('"replication-snapshot"', (l) => l.event === 'replication-snapshot').then((s) => {
    replicaPeakAtSnapshot = replica.peak();
    return s;
  });
  snapshot.catch(() => undefined);
  const rAnswer = await replica.firstAnswer(replicaUser);
  const snap = await snapshot;
  const sent = await master.waitFor('"replication-snapshot-sent"', (l) => l.event === 'replication-snapshot-sent', 1, 10_000);
  result.replica_snapshot_ms = replica.since(snap.at);
  result.replica_first_answer_ms = rAnswer.ms;
  result.replica_first_answer = rAnswer.code;
  result.replica_peak_at_snapshot_mib = replicaPeakAtSnapshot;
  result.replica_peak_at_answer_mib = replica.peak();
  result.snapshot = {
    bytes: snap.line.bytes,
    users: snap.line.users,
    fetch_ms: snap.line.fetch_ms,
    verify_ms: snap.line.verify_ms,
    apply_ms: snap.line.apply_ms,
    master_build_ms: sent.line.build_ms,
    // send_ms: signing and streaming the file; before feed format 3 the master logged encode_ms (JSON and signing)
    master_send_ms: sent.line.send_ms ?? sent.line.encode_ms,
  };
  result.master_peak_before_snapshot_mib = masterPeakBefore;
  result.master_peak_after_snapshot_mib = master.peak();
  console.log(
    `  replica: snapshot applied ${result.replica_snapshot_ms} ms after spawn (${String(snap.line.bytes)} bytes; master build ${String(sent.line.build_ms)} ms,` +
      ` replica fetch ${String(snap.line.fetch_ms)} ms, verify ${String(snap.line.verify_ms)} ms, apply ${String(snap.line.apply_ms)} ms);` +
      ` first RADIUS answer (${rAnswer.code}) ${rAnswer.ms} ms after spawn; peak RSS ${result.replica_peak_at_snapshot_mib} MiB at the snapshot, ${result.replica_peak_at_answer_mib} MiB at the answer`,
  );
  console.log(`  master: peak RSS ${masterPeakBefore} MiB before the snapshot, ${result.master_peak_after_snapshot_mib} MiB after building and sending it`);
  result.replica_warm_ms = await replica.warmed();
  result.replica_rss_warm_mib = replica.rss();
  result.replica_peak_warm_mib = replica.peak();
  console.log(`  replica: user caches warm ${result.replica_warm_ms} ms after spawn; RSS ${result.replica_rss_warm_mib} MiB, peak ${result.replica_peak_warm_mib} MiB`);

  // --- 4. stop --------------------------------------------------------------------------------------------------
  result.replica_stop_ms = await replica.stop();
  result.master_peak_mib = master.peak();
  result.master_stop_ms = await master.stop();
  console.log(`  SIGTERM: replica gone in ${result.replica_stop_ms} ms, master in ${result.master_stop_ms} ms; master peak RSS over the whole run ${result.master_peak_mib} MiB`);
}

try {
  await main();
} catch (err) {
  result.error = errorMessage(err);
  console.error(`  FAILED: ${errorMessage(err)}`);
  process.exitCode = 1;
} finally {
  for (const node of nodes) {
    if (node.exitCode === undefined) {
      result[`${node.name}_peak_at_end_mib`] = node.peak();
      await node.stop();
    }
  }
}
console.log(JSON.stringify(result));
