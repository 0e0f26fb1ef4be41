import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMPACTION_KEEP_TAIL, Store } from '@otpgate/core';
import { TestNode } from './helpers/test-node.js';
import { papRequest, radclient } from './helpers/radclient.js';
import { awaitFreshStep, totpCode } from './helpers/otp.js';

const SECRET = 'testing123';
const CODES = 12_000;

interface ClusterStatus {
  head_seq: number;
  replicas: Array<{ name: string; acked_seq: number }>;
}

describe('the master compacts its change log behind its replicas', () => {
  let master: TestNode;
  let replica: TestNode;
  let aliceSecret = '';

  beforeAll(async () => {
    master = await TestNode.createMaster('compact-master');
    await master.addClient('local', '127.0.0.1', SECRET);
    aliceSecret = await master.addUserWithToken('alice', 'alice-password');
    await master.start();
    replica = await TestNode.createReplica('compact-replica', master);
    await replica.start();
    await replica.waitForApplied(await master.headSeq());
  });
  afterAll(async () => {
    await Promise.all([master?.stop(), replica?.stop()]);
  });

  it('drops what every replica seen lately has applied; a replica away longer than the horizon re-syncs from a snapshot', async () => {
    const away = await replica.headSeq();
    await replica.stop();
    await master.stop();
    // 12,000 codes accepted while the replica was away (one token_state entry each), and the replica last seen 8 days
    // ago: past the default horizon of 7 days
    const store = await Store.open(join(master.dir, 'data'));
    try {
      const [token] = store.readAll('token');
      store.db.transaction(() => {
        for (let i = 0; i < CODES; i++) store.logChange({ entity: 'token_state', op: 'upsert', key: String(token!.id), data: { token_id: token!.id, last_step: i, drift: 0 } });
      });
      store.db.run(store.db.q.updateTable('replicas').set({ last_seen_at: Date.now() - 8 * 86_400_000 }));
    } finally {
      store.close();
    }
    const head = away + CODES;

    await master.start();
    const compacted = await master.waitForLog((l) => l.event === 'log-compaction', 30_000);
    expect(compacted).toMatchObject({ from: 0, base: head - COMPACTION_KEEP_TAIL, deleted: head - COMPACTION_KEEP_TAIL });

    // (a start begins the node's log lines afresh)
    await replica.start();
    const resync = await replica.waitForLog((l) => l.event === 'replication-failure', 20_000);
    expect(resync).toMatchObject({ reason: 'resync-requested' });
    expect(String(resync.err)).toContain(`the master keeps changes from ${head - COMPACTION_KEEP_TAIL} on only`);
    await replica.waitForLog((l) => l.event === 'replication-snapshot' && l.seq === head, 20_000);
    // back in the cluster: it acknowledges the head again and serves RADIUS
    await master.cliOk('user', 'set', 'alice', '--display-name', 'after the compaction');
    await replica.waitForApplied(head + 1);
    const acked = async () => (JSON.parse(await master.cliOk('cluster', 'status', '--json')) as ClusterStatus).replicas[0]!.acked_seq;
    await expect.poll(acked, { timeout: 10_000 }).toBe(head + 1);
    await awaitFreshStep();
    expect((await radclient(replica.target, SECRET, papRequest('alice', `alice-password${totpCode(aliceSecret)}`))).code).toBe('Access-Accept');
  });
});
