/**
 * Finding 1's test: a 100,000-user import into a serving master with a replica, while both answer a steady stream of
 * Access-Requests. The issue's requirements: every node keeps answering during and after the bulk change (the
 * longest silence under 2 s, p99 under 100 ms for requests the change does not touch), and the serving node's own
 * writes never fail because another process holds the lock (no internal-error or store-unwritable drops).
 *
 * Judged per node. Every request must be answered, right, whatever the load. The time limits are judged when the test
 * had the machine (mostly) to itself: on a 2-core machine shared with other work (other tests, benches), a node's
 * latency says more about that work than about otpgate, so past MAX_OTHERS_SHARE of the CPUs taken by others they are
 * printed, not judged; and they get what this process's own timers were late by (its p99 for the p99, its worst for
 * the silence), which the machine took from the nodes as much as from the test. The figures, per phase, are printed;
 * bench/bulk-import.sh prints them for any size.
 */
import { join } from 'node:path';
import { cpus, loadavg } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CODE } from '@otpgate/core';
import { TestNode } from './helpers/test-node.js';
import { totpCode, wrongCode } from './helpers/otp.js';
import { RawClient, accessRequest } from './helpers/raw-radius.js';
import { LoopDelay, RadiusStream, type NodeFigures, type StreamItem } from '../bench/radius-stream.js';
import { csvUserName, csvUserSecret, writeUsersCsv } from '../bench/users-csv.js';
import { CpuShare } from './helpers/cpu-share.js';

const SECRET = 'testing123';
/**
 * Users the stream asks for, imported before the nodes start: each in turn, so a user's next request comes a minute
 * or more later, with the code of a later step (an Accept again: no replay).
 */
const SERVING_USERS = 10_000;
/** The bulk change. */
const IMPORTED_USERS = 100_000;
/** Requests a second, over both nodes. */
const RATE = 150;
/** The stream runs this long before the import and after the replica has caught up. */
const QUIET_MS = 5000;
/** The issue's requirements. */
const MAX_SILENCE_MS = 2000;
const MAX_P99_MS = 100;
/** Past this share of the machine taken by other work, the time limits say nothing about otpgate: not judged. */
const MAX_OTHERS_SHARE = 0.5;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('a 100,000-user import into a serving master with a replica, under a steady stream of requests (finding 1)', () => {
  let master: TestNode;
  let replica: TestNode;

  beforeAll(async () => {
    master = await TestNode.createMaster('bulk-master');
    // code-only: no argon2 for the stream's users, so the figures are the store's, not the password hash's
    await master.addClient('local', '127.0.0.1', SECRET, '--mode', 'code-only');
    const serving = join(master.dir, 'serving.csv');
    writeUsersCsv(serving, 'serve', SERVING_USERS);
    await master.cliOk('import', 'users-csv', serving, '--commit');
    writeUsersCsv(join(master.dir, 'bulk.csv'), 'bulk', IMPORTED_USERS);
    await master.start();
    replica = await TestNode.createReplica('bulk-replica', master);
    // a replica starts serving once it has its snapshot: seconds on a busy machine
    await replica.start(60_000);
  }, 180_000);
  afterAll(async () => {
    await Promise.all([master?.stop(), replica?.stop()]);
  });

  it('both nodes answer every request, right, without a long silence, while the import runs and the replica applies it', async () => {
    // users in turn: two in three with the code valid now (an Accept), one in three with a wrong code (a Reject,
    // and after five rounds a locked account: a Reject too)
    let nextUser = 0;
    const next = (): StreamItem => {
      const i = nextUser++ % SERVING_USERS;
      const username = csvUserName('serve', i);
      const secret = csvUserSecret(username);
      return i % 3 === 0 ? { username, password: wrongCode(secret), expect: 'reject' } : { username, password: totpCode(secret), expect: 'accept' };
    };
    const load = `load average before: ${loadavg().map((l) => l.toFixed(2)).join(' ')} on ${cpus().length} CPUs`;

    const loop = new LoopDelay();
    const share = new CpuShare(() => [master.pid!, replica.pid!]);
    const stream = await RadiusStream.start({ nodes: [{ name: 'master', port: master.port }, { name: 'replica', port: replica.port }], secret: SECRET, rate: RATE, next });
    await sleep(QUIET_MS);
    const importStart = performance.now();
    const imported = await master.cli('import', 'users-csv', join(master.dir, 'bulk.csv'), '--commit');
    const importEnd = performance.now();
    expect(imported.code, imported.stderr).toBe(0);
    const head = await master.headSeq();
    await replica.waitForApplied(head, 180_000);
    const caughtUp = performance.now();
    await sleep(QUIET_MS);
    await stream.stop();
    const delay = loop.stop();
    const othersShare = share.others();
    const judged = othersShare < MAX_OTHERS_SHARE;
    // where a node's time went: its main thread's event-loop delay (since it started), the replica's claims
    const mainThread = async (node: TestNode) =>
      `main thread late p99 ${(1000 * (await node.metric('nodejs_eventloop_lag_p99_seconds'))).toFixed(0)} ms, at most ${(1000 * (await node.metric('nodejs_eventloop_lag_max_seconds'))).toFixed(0)} ms`;
    const claims = (await Promise.all(['claimed', 'replay', 'unavailable'].map(async (result) => `${result} ${await replica.metric('otpgate_replay_claims_total', { result })}`))).join(', ');
    const inside = [`master: ${await mainThread(master)}`, `replica: ${await mainThread(replica)}; claims at the master: ${claims}`];
    // A replica's Accept waits for its claim at the master (cluster.replay_claim: best-effort, 1 s): while the master
    // commits the bulk change, some claims go unanswered until that timeout, and those Accepts are the replica's slowest.
    // They are touched by the change (they wait on the node making it): past the timeout they are judged, not below it.
    const unavailableClaims = await replica.metric('otpgate_replay_claims_total', { result: 'unavailable' });
    const CLAIM_TIMEOUT_MS = 1000;
    // what the machine took from this process it took from the nodes too: the requirements plus that much
    const silenceAllowed = MAX_SILENCE_MS + delay.maxMs;
    const p99Allowed = MAX_P99_MS + delay.p99Ms;

    const whole = stream.figures();
    const fmt = (f: NodeFigures) =>
      `  ${f.node}: ${f.sent} sent, ${f.answered} answered (${f.accepts} accepts, ${f.rejects} rejects), ${f.lost} lost, ${f.wrong.length} wrong; ` +
      `latency p50 ${f.p50Ms.toFixed(1)} ms, p99 ${f.p99Ms.toFixed(1)} ms, max ${f.maxMs.toFixed(0)} ms; longest silence ${f.maxGapMs.toFixed(0)} ms`;
    const phases: Array<[string, number, number]> = [
      ['before the import', 0, importStart],
      ['during the import', importStart, importEnd],
      ['while the replica catches up', importEnd, caughtUp],
      ['after', caughtUp, Infinity],
    ];
    console.log(
      [
        `bulk import while serving (${RATE} requests/s over both nodes; ${load})`,
        `import of ${IMPORTED_USERS} users: ${((importEnd - importStart) / 1000).toFixed(1)} s (${imported.stdout.trim().split('\n').at(-1)})`,
        `replica at the master's head (${head}) ${((caughtUp - importEnd) / 1000).toFixed(1)} s after the import ended`,
        'whole run:',
        ...whole.map(fmt),
        ...phases.flatMap(([what, from, to]) => [`${what}:`, ...stream.figures(from, to).map(fmt)]),
        ...inside,
        `other work on this machine took ${(100 * othersShare).toFixed(0)} % of its CPUs meanwhile; this test's own timers: p99 ${delay.p99Ms.toFixed(0)} ms late, at most ${delay.maxMs.toFixed(0)} ms`,
        judged
          ? `time limits judged: longest silence < ${silenceAllowed.toFixed(0)} ms, p99 < ${p99Allowed.toFixed(0)} ms`
          : `time limits NOT judged: other work took more than ${100 * MAX_OTHERS_SHARE} % of the machine (the figures above are printed all the same)`,
        `load average after: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`,
      ].join('\n'),
    );

    expect(stream.skipped, 'requests not sent for want of a free identifier').toBe(0);
    for (const f of whole) {
      expect(f.lost, `${f.node}: requests never answered`).toBe(0);
      expect(f.wrong, `${f.node}: wrong answers`).toEqual([]);
      expect(f.accepts, `${f.node}: accepts`).toBeGreaterThan(0);
      if (!judged) continue;
      expect(f.maxGapMs, `${f.node}: longest silence`).toBeLessThan(silenceAllowed);
      const waitedOnClaims = f.node === 'replica' && unavailableClaims > 0;
      expect(f.p99Ms, `${f.node}: p99 latency${waitedOnClaims ? ` (${unavailableClaims} claims waited their timeout)` : ''}`).toBeLessThan(
        p99Allowed + (waitedOnClaims ? CLAIM_TIMEOUT_MS : 0),
      );
    }
    for (const node of [master, replica]) {
      for (const cause of ['internal-error', 'store-unwritable']) expect(await node.metric('otpgate_radius_dropped_total', { cause }), cause).toBe(0);
      expect(node.logs().filter((l) => l.event === 'store-unwritable' || l.level === 'error')).toEqual([]);
    }
  }, 600_000);

  it('an imported user logs in on the master and on the replica', async () => {
    const client = await RawClient.open();
    try {
      for (const [node, i] of [[master, 1], [replica, IMPORTED_USERS - 1]] as const) {
        const username = csvUserName('bulk', i);
        client.send(accessRequest({ username, password: totpCode(csvUserSecret(username)), secret: SECRET }), node.port);
        expect((await client.next(5000))?.[0], `${username} on ${node === master ? 'the master' : 'the replica'}`).toBe(CODE.ACCESS_ACCEPT);
      }
    } finally {
      client.close();
    }
  });
});
