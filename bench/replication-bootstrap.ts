/**
 * One fresh replica's bootstrap, timed (bench/replication.sh runs it; see bench/README.md): start `otpgate serve` on a
 * replica that has joined but never synced, and measure from the spawn to
 *   - its `replication-snapshot` log line (the snapshot fetched, verified and applied; the line's own fields say how
 *     long each part took),
 *   - its first RADIUS answer: once it logs "RADIUS listening", radclient sends an Access-Request for USER with the
 *     code valid now (code-only users, so the code is the whole User-Password), again until one is answered.
 * Then reads the replica's peak RSS (VmHWM), stops it with SIGTERM and prints one JSON line.
 *
 * Usage: node replication-bootstrap.js CLI_JS CONFIG LOG_FILE RADIUS_PORT USER BASE32_SECRET [NODE_OPTION...]
 */
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { ask, procStatus } from './radius-probe.js';

const [cli, config, logFile, portArg, user, secret, ...nodeOptions] = process.argv.slice(2);
if (!cli || !config || !logFile || !portArg || !user || !secret) {
  console.error('usage: replication-bootstrap.js CLI_JS CONFIG LOG_FILE RADIUS_PORT USER BASE32_SECRET [NODE_OPTION...]');
  process.exit(2);
}
const TIMEOUT_MS = Number(process.env.BOOTSTRAP_TIMEOUT_MS ?? 180_000);

const log = createWriteStream(logFile, { flags: 'a' });
const t0 = performance.now();
const wall0 = Date.now();
const child = spawn(process.execPath, [...nodeOptions, cli, '-c', config, 'serve'], { stdio: ['ignore', 'pipe', 'pipe'] });
const since = (t: number) => Math.round(t - t0);
const result: Record<string, unknown> = {};
let listening: (() => void) | undefined;
const listeningP = new Promise<void>((resolve) => (listening = resolve));
let exited: ((code: number | null) => void) | undefined;
const exitedP = new Promise<number | null>((resolve) => (exited = resolve));
child.on('exit', (code) => exited?.(code));

const onLine = (text: string) => {
  let line: Record<string, unknown>;
  try {
    line = JSON.parse(text) as Record<string, unknown>;
  } catch {
    return;
  }
  // the log line's own time (when the replica wrote it), relative to the spawn
  const at = Date.parse(String(line.time)) - wall0;
  if (String(line.msg).startsWith('waiting for the first snapshot')) result.waiting_ms = at;
  else if (line.event === 'replication-snapshot' && result.snapshot_ms === undefined) {
    result.snapshot_ms = at;
    for (const k of ['seq', 'users', 'bytes', 'ms', 'fetch_ms', 'verify_ms', 'parse_ms', 'apply_ms']) result[`snap_${k}`] = line[k];
  } else if (line.msg === 'RADIUS listening' && result.listening_ms === undefined) {
    result.listening_ms = at;
    listening?.();
  } else if (line.level === 'error' || line.level === 'fatal' || line.event === 'replication-failure') {
    console.error(`  replica: ${text}`);
  }
};
for (const stream of [child.stdout, child.stderr]) {
  stream.on('data', (d: Buffer) => log.write(d));
  createInterface({ input: stream, crlfDelay: Infinity }).on('line', onLine);
}

const timer = setTimeout(() => {
  console.error(`  the replica did not answer within ${TIMEOUT_MS} ms`);
  child.kill('SIGKILL');
}, TIMEOUT_MS);

let code: number | null | undefined;
await Promise.race([listeningP, exitedP.then((c) => (code = c))]);
if (code !== undefined) {
  console.error(`  the replica exited (status ${code}) before serving RADIUS; see ${logFile}`);
  process.exit(1);
}
let answer: { code: string | null; output: string } = { code: null, output: '' };
let tries = 0;
while (answer.code === null && child.exitCode === null) {
  tries++;
  answer = ask(Number(portArg), user, secret);
}
result.answer_ms = since(performance.now());
result.answer = answer.code;
result.tries = tries;
clearTimeout(timer);
result.peak_rss_kb = procStatus(child.pid!, 'VmHWM');
result.rss_kb = procStatus(child.pid!, 'VmRSS');
child.kill('SIGTERM');
await exitedP;
log.end();
console.log(JSON.stringify(result));
if (answer.code === null) {
  console.error(`  no RADIUS answer: ${answer.output.trim().split('\n').slice(-3).join(' / ')}`);
  process.exit(1);
}
