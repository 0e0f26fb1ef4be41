import { readdirSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toBase32 } from '@otpgate/core';
import { TestNode, type LogLine } from './helpers/test-node.js';
import { papRequest, radclient } from './helpers/radclient.js';
import { awaitFreshStep, totpCode, wrongCode } from './helpers/otp.js';

const SECRET = 'testing123';
/** Enough users (each with a token) that applying the snapshot takes seconds, not milliseconds. */
const USERS = 40_000;

async function userCount(node: TestNode): Promise<number> {
  return (JSON.parse(await node.cliOk('user', 'list', '--json', '--limit', '1')) as { total: number }).total;
}

/** The snapshot files in a node's data folder (received, being applied). */
function snapshotFiles(node: TestNode): string[] {
  try {
    return readdirSync(join(node.dir, 'data', 'snapshots'));
  } catch {
    return [];
  }
}

describe('a replica applying a large snapshot', () => {
  let master: TestNode;
  let replica: TestNode;
  let aliceSecret = '';

  beforeAll(async () => {
    master = await TestNode.createMaster('snapshot-master');
    await master.addClient('local', '127.0.0.1', SECRET);
    aliceSecret = await master.addUserWithToken('alice', 'alice-password');
    const csv = ['username,token secret'];
    for (let i = 0; i < USERS; i++) csv.push(`bulk${i},${toBase32(createHash('sha1').update(`snapshot-test:${i}`).digest())}`);
    const file = join(master.dir, 'users.csv');
    writeFileSync(file, csv.join('\n') + '\n');
    await master.cliOk('import', 'users-csv', file, '--commit');
    await master.start();
    replica = await TestNode.createReplica('snapshot-replica', master);
  }, 180_000);
  afterAll(async () => {
    await Promise.all([master?.stop(), replica?.stop()]);
  });

  it('stops on SIGTERM in the middle of it, keeping nothing of it, and takes a fresh one cleanly when started again', async () => {
    // a fresh replica: it waits for its first snapshot; stopped once the snapshot is received and being applied
    await replica.start(60_000, (l) => l.event === 'replication-snapshot-received');
    expect(await replica.stop()).toBeNull(); // gone on SIGTERM, not killed
    expect(replica.logs().some((l) => l.event === 'replication-snapshot')).toBe(false);
    // the transaction was rolled back: nothing of the master's is here, and no file is left behind
    expect(await userCount(replica)).toBe(0);
    expect(JSON.parse(await replica.cliOk('cluster', 'status', '--json'))).toMatchObject({ applied_seq: 0 });
    expect(snapshotFiles(replica)).toEqual([]);

    await replica.start(120_000);
    const applied = replica.logs().find((l) => l.event === 'replication-snapshot')!;
    expect(applied).toMatchObject({ seq: await master.headSeq(), users: USERS + 1 });
    expect(await userCount(replica)).toBe(USERS + 1);
    expect(snapshotFiles(replica)).toEqual([]);
    await awaitFreshStep();
    expect((await radclient(replica.target, SECRET, papRequest('alice', `alice-password${totpCode(aliceSecret)}`))).code).toBe('Access-Accept');
  }, 240_000);

  it('keeps answering RADIUS, metrics and health while it applies a re-sync', async () => {
    const mark = replica.logs().length;
    const since = (l: LogLine) => replica.logs().indexOf(l) >= mark;
    await replica.cliOk('replica', 'resync');
    await replica.waitForLog((l) => since(l) && l.event === 'replication-snapshot-received', 60_000);
    // asked and answered while the snapshot is being applied: the RADIUS threads and the main thread are not held up
    const answer = await radclient(replica.target, SECRET, papRequest('alice', `alice-password${wrongCode(aliceSecret)}`), { timeoutSeconds: 3 });
    const ready = await fetch(`${replica.metricsUrl}/readyz`);
    const metrics = await (await fetch(`${replica.metricsUrl}/metrics`)).text();
    expect(replica.logs().some((l) => since(l) && l.event === 'replication-snapshot')).toBe(false);
    expect(answer.code).toBe('Access-Reject');
    expect(ready.status).toBe(200);
    expect(metrics).toContain('otpgate_replication_applied_seq');
    await replica.waitForLog((l) => since(l) && l.event === 'replication-snapshot', 120_000);
    expect(await userCount(replica)).toBe(USERS + 1);
  }, 240_000);

  it('stops the master on SIGTERM while it builds a snapshot; the replica takes one once the master is back', async () => {
    // a change first: the master keeps the snapshot it built while its head stays put, and would send that one again
    await master.cliOk('user', 'add', 'after-the-first-snapshot', '--no-password');
    const mark = master.logs().length;
    await replica.cliOk('replica', 'resync');
    await master.waitForLog((l) => master.logs().indexOf(l) >= mark && l.event === 'replication-snapshot-build', 60_000);
    expect(await master.stop()).toBeNull(); // gone on SIGTERM, not killed: the snapshot thread was ended
    const since = replica.logs().length;
    await master.start();
    await replica.waitForLog((l) => replica.logs().indexOf(l) >= since && l.event === 'replication-snapshot', 120_000);
    expect(await userCount(replica)).toBe(USERS + 2);
  }, 240_000);
});
