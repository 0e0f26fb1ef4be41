/**
 * A bulk import into a serving master with a replica (bench/bulk-import.sh; finding 1): the figures test/bulk-import
 * asserts, for any number of users. A master and a replica serve SERVING users (code-only, from a users CSV); a steady
 * stream of Access-Requests goes to both (two in three with the right code, one with a wrong code, each user in turn);
 * after QUIET seconds `otpgate import users-csv` writes ROWS new users on the master; the stream goes on until the
 * replica has applied the master's head and QUIET seconds more. Prints per node and per phase (before, during the
 * import, while the replica catches up, after): requests lost and wrong, latency p50/p99/max, the longest silence;
 * the import's duration and how long after it the replica had it all. Exits 1 when a request was lost or wrong.
 *
 * Usage: node bench/results/build/bulk-import.js CLI OUT_DIR ROWS RATE PORT [--cpu-prof]
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { codeAt, fromBase32 } from '@otpgate/core';
import { BenchNode, og } from './bench-node.js';
import { RadiusStream, type NodeFigures } from './radius-stream.js';
import { csvUserName, csvUserSecret, writeUsersCsv } from './users-csv.js';

const [cli = '', out = '', rowsArg = '100000', rateArg = '150', portArg = '18190', profile] = process.argv.slice(2);
const ROWS = Number(rowsArg);
const RATE = Number(rateArg);
const PORT = Number(portArg);
if (!cli || !out || !(ROWS > 0) || !(RATE > 0) || !(PORT > 0)) {
  console.error('usage: bulk-import.js CLI OUT_DIR ROWS RATE PORT [--cpu-prof]');
  process.exit(2);
}
const SECRET = 'bulk-shared-secret-1234';
const SERVING = 10_000;
const QUIET_MS = 5000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const codeOf = (name: string, offset = 0) => codeAt({ key: fromBase32(csvUserSecret(name)), algorithm: 'SHA1', digits: 6 }, Math.floor(Date.now() / 30_000) + offset);

const master = new BenchNode(cli, 'master', join(out, 'master'), PORT);
const replica = new BenchNode(cli, 'replica', join(out, 'replica'), PORT + 1);
const section = (n: BenchNode) =>
  `node:\n  name: ${n.name}\n  data_dir: ${JSON.stringify(join(n.dir, 'data'))}\nradius:\n  listen: ["127.0.0.1:${n.port}"]\nlog:\n  level: info\n` +
  `metrics:\n  listen: ["127.0.0.1:0"]\nadmin:\n  listen: ["127.0.0.1:0"]\n`;
writeFileSync(master.config, section(master) + `cluster:\n  listen: ["127.0.0.1:${PORT + 2}"]\n`);
writeFileSync(replica.config, section(replica));
await master.ogOk(['init']);
await master.ogOk(['cluster', 'init', '--host', '127.0.0.1']);
await master.ogOk(['client', 'add', 'local', '127.0.0.1', '--secret-stdin', '--mode', 'code-only'], SECRET);
writeUsersCsv(join(out, 'serving.csv'), 'serve', SERVING);
await master.ogOk(['import', 'users-csv', join(out, 'serving.csv'), '--commit']);
writeUsersCsv(join(out, 'bulk.csv'), 'bulk', ROWS);
await master.ogOk(['cluster', 'add-replica', 'replica', '--out', join(replica.dir, 'bundle.json')]);
await replica.ogOk(['replica', 'join', join(replica.dir, 'bundle.json')]);
const nodeArgs = profile === '--cpu-prof' ? ['--cpu-prof', `--cpu-prof-dir=${join(out, 'prof')}`] : [];
await master.start(nodeArgs);
await replica.start(nodeArgs);

let next = 0;
const stream = await RadiusStream.start({
  nodes: [master, replica].map((n) => ({ name: n.name, port: n.port })),
  secret: SECRET,
  rate: RATE,
  next: () => {
    const i = next++ % SERVING;
    const username = csvUserName('serve', i);
    return i % 3 === 0 ? { username, password: codeOf(username, 10), expect: 'reject' } : { username, password: codeOf(username), expect: 'accept' };
  },
});
const load = (when: string) => `load average ${when}: ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`;
const before = load('before');
await sleep(QUIET_MS);
const importStart = performance.now();
const imported = await og(cli, master.config, ['import', 'users-csv', join(out, 'bulk.csv'), '--commit']);
const importEnd = performance.now();
const head = await master.head();
while ((await replica.head()) < head) await sleep(200);
const caughtUp = performance.now();
await sleep(QUIET_MS);
await stream.stop();
await Promise.all([master.stop(), replica.stop()]);

const fmt = (f: NodeFigures) =>
  `  ${f.node}: ${f.sent} sent, ${f.lost} lost, ${f.wrong.length} wrong; latency p50 ${f.p50Ms.toFixed(1)} ms, p99 ${f.p99Ms.toFixed(1)} ms, ` +
  `max ${f.maxMs.toFixed(0)} ms; longest silence ${f.maxGapMs.toFixed(0)} ms`;
const phases: Array<[string, number, number]> = [
  ['whole run', 0, Infinity],
  ['before the import', 0, importStart],
  ['during the import', importStart, importEnd],
  ['while the replica catches up', importEnd, caughtUp],
  ['after', caughtUp, Infinity],
];
console.log(
  [
    `bulk import of ${ROWS} users into a serving master with a replica (${RATE} requests/s over both; ${SERVING} serving users; ${before})`,
    `import: ${((importEnd - importStart) / 1000).toFixed(1)} s, exit ${imported.code} (${imported.stdout.trim().split('\n').at(-1)})`,
    `replica at the master's head (${head}): ${((caughtUp - importEnd) / 1000).toFixed(1)} s after the import ended`,
    ...phases.flatMap(([what, from, to]) => [`${what}:`, ...stream.figures(from, to).map(fmt)]),
    load('after'),
  ].join('\n'),
);
if (stream.figures().some((f) => f.lost > 0 || f.wrong.length > 0) || imported.code !== 0) process.exitCode = 1;
