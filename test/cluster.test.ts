import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestNode } from './helpers/test-node.js';
import { papRequest, radclient } from './helpers/radclient.js';
import { awaitFreshStep, totpCode } from './helpers/otp.js';
import { PamService, canRunPam } from './helpers/pam.js';
import { eventually } from './helpers/eventually.js';

const SECRET = 'testing123';

interface UserJson {
  username: string;
  display_name: string;
  status: string;
  tokens: number;
}

async function users(node: TestNode): Promise<UserJson[]> {
  return (JSON.parse(await node.cliOk('user', 'list', '--json')) as { users: UserJson[] }).users;
}

describe('master and two replicas as separate processes', () => {
  let master: TestNode;
  let r1: TestNode;
  let r2: TestNode;
  let aliceSecret = '';
  let erinSecret = '';

  /**
   * Make a change on the master, then wait until both replicas applied it; returns the larger of the two delays from
   * the commit on the master to the apply on the replica (as the replicas log them).
   */
  async function propagate(change: () => Promise<unknown>): Promise<number> {
    await change();
    const seq = await master.headSeq();
    const applied = await Promise.all([r1.waitForApplied(seq), r2.waitForApplied(seq)]);
    return Math.max(...applied.map((l) => Number(l.lag_ms ?? 0)));
  }

  beforeAll(async () => {
    master = await TestNode.createMaster('master');
    // pam_radius_auth 2.0 sends no Message-Authenticator: this client opts out, on every node (clients replicate)
    await master.addClient('local', '127.0.0.1', SECRET, '--no-require-message-authenticator');
    aliceSecret = await master.addUserWithToken('alice', 'alice-password');
    erinSecret = await master.addUserWithToken('erin', 'erin-password');
    await master.start();
    r1 = await TestNode.createReplica('r1', master);
    r2 = await TestNode.createReplica('r2', master);
    await Promise.all([r1.start(), r2.start()]);
  });
  afterAll(async () => {
    await Promise.all([master?.stop(), r1?.stop(), r2?.stop()]);
  });

  it('copies the master on first start (snapshot) and serves RADIUS from it', async () => {
    await Promise.all([r1, r2].map((r) => r.waitForLog((l) => l.event === 'replication-snapshot')));
    expect(await users(r1)).toEqual(await users(master));
    // both replicas asked for a snapshot at the same head: the master built it once
    for (const name of ['r1', 'r2']) await master.waitForLog((l) => l.event === 'replication-snapshot-sent' && l.replica === name);
    expect(master.logs().filter((l) => l.event === 'replication-snapshot-build')).toHaveLength(1);
    await awaitFreshStep();
    const reply = await radclient(r2.target, SECRET, papRequest('alice', `alice-password${totpCode(aliceSecret)}`));
    expect(reply.code).toBe('Access-Accept');
  });

  it('replicates user and token changes to both replicas within a second each', async () => {
    const times: number[] = [];
    times.push(await propagate(() => master.cliInput('bob-password', 'user', 'add', 'bob', '--password-stdin')));
    let bobSecret = '';
    times.push(await propagate(async () => (bobSecret = await master.addToken('bob'))));
    times.push(await propagate(() => master.cliOk('user', 'set', 'bob', '--display-name', 'Bob Builder')));
    const tokenId = (JSON.parse(await master.cliOk('token', 'list', 'bob', '--json')) as Array<{ id: number }>)[0]!.id;
    // a disabled token is refused on the replicas, and accepted again once enabled
    times.push(await propagate(() => master.cliOk('token', 'disable', String(tokenId))));
    await awaitFreshStep();
    const mark = await r1.mark();
    expect((await radclient(r1.target, SECRET, papRequest('bob', `bob-password${totpCode(bobSecret)}`))).code).toBe('Access-Reject');
    expect(await r1.authAfter(mark, 'bob')).toMatchObject({ result: 'reject', reason: 'no-token' });
    times.push(await propagate(() => master.cliOk('token', 'enable', String(tokenId))));
    expect((await radclient(r2.target, SECRET, papRequest('bob', `bob-password${totpCode(bobSecret)}`))).code).toBe('Access-Accept');
    times.push(await propagate(() => master.cliOk('user', 'disable', 'bob')));
    times.push(await propagate(() => master.cliOk('token', 'remove', String(tokenId))));
    const onMaster = await users(master);
    expect(onMaster.find((u) => u.username === 'bob')).toMatchObject({ display_name: 'Bob Builder', status: 'disabled', tokens: 0 });
    expect(await users(r1)).toEqual(onMaster);
    expect(await users(r2)).toEqual(onMaster);
    times.push(await propagate(() => master.cliOk('user', 'remove', 'bob')));
    expect((await users(r2)).map((u) => u.username)).toEqual(['alice', 'erin']);
    console.log(`propagation, commit on the master -> applied on both replicas (ms): ${times.join(', ')}`);
    for (const t of times) expect(t).toBeLessThan(1000);
  });

  it('refuses changes on a replica with a message naming the master', async () => {
    const result = await r1.cli('user', 'add', 'mallory', '--no-password');
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`read-only replica; make changes on the master (https://127.0.0.1:${master.replicationPort})`);
    const admin = await r1.cli('admin', 'set-password', '--generate');
    expect(admin.stderr).toContain('read-only replica');
  });

  it('refuses a code on every other node once it was accepted on one (both directions)', async () => {
    await awaitFreshStep(12);
    const onMaster = totpCode(erinSecret);
    expect((await radclient(master.target, SECRET, papRequest('erin', `erin-password${onMaster}`))).code).toBe('Access-Accept');
    await Promise.all([r1.waitForApplied(await master.headSeq()), r2.waitForApplied(await master.headSeq())]);
    const r1Mark = await r1.mark();
    expect((await radclient(r1.target, SECRET, papRequest('erin', `erin-password${onMaster}`))).code).toBe('Access-Reject');
    expect((await r1.authAfter(r1Mark, 'erin')).reason).toBe('replay');

    const onReplica = totpCode(erinSecret, 1);
    const step = Math.floor(Date.now() / 30_000) + 1;
    expect((await radclient(r1.target, SECRET, papRequest('erin', `erin-password${onReplica}`))).code).toBe('Access-Accept');
    // the replica reports the step; the master records it and publishes it to every node
    await eventually('the master to learn the step used on r1', async () => {
      const tokens = JSON.parse(await master.cliOk('token', 'list', 'erin', '--json')) as Array<{ last_step: number }>;
      return tokens[0]!.last_step >= step;
    });
    await r2.waitForApplied(await master.headSeq());
    const masterMark = await master.mark();
    expect((await radclient(master.target, SECRET, papRequest('erin', `erin-password${onReplica}`))).code).toBe('Access-Reject');
    expect((await radclient(r2.target, SECRET, papRequest('erin', `erin-password${onReplica}`))).code).toBe('Access-Reject');
    expect((await master.authAfter(masterMark, 'erin')).reason).toBe('replay');
  });

  it('replicates the admin password', async () => {
    await propagate(() => master.cliInput('new-admin-password', 'admin', 'set-password', '--password-stdin'));
    for (const node of [r1, r2]) {
      expect((await node.cli('admin', 'verify-password')).code).toBe(1);
      expect(await node.cliInput('new-admin-password', 'admin', 'verify-password')).toContain('password accepted');
    }
  });

  it('shows each replica with its acknowledged change and lag on the master', async () => {
    const status = JSON.parse(await master.cliOk('cluster', 'status', '--json')) as {
      head_seq: number;
      replicas: Array<{ name: string; health: string; acked_seq: number; lag_entries: number }>;
    };
    expect(status.replicas.map((r) => [r.name, r.health])).toEqual([
      ['r1', 'ok'],
      ['r2', 'ok'],
    ]);
    for (const r of status.replicas) expect(r.acked_seq).toBe(status.head_seq);
    const self = JSON.parse(await r1.cliOk('cluster', 'status', '--json')) as { role: string; applied_seq: number; lag_entries: number };
    expect(self).toMatchObject({ role: 'replica', applied_seq: status.head_seq, lag_entries: 0, lag_seconds: 0, healthy: true });
    expect(self).toHaveProperty('health_detail', expect.stringMatching(/^master contacted .* lag 0 s \(budget 60 s\)$/));
    const text = await r1.cliOk('cluster', 'status');
    expect(text).toMatch(/^health\s+ok: master contacted/m);
    expect(text).toMatch(/^lag \(seconds\)\s+0$/m);
  });

  it('grants the initial-login allowance on the master only: a replica refuses the password alone', async () => {
    const before = r1.logs().length;
    await propagate(() => master.configure('settings', 'set', 'auth.initial_login', '{"enabled": true, "days": 7, "max_logins": 3}'));
    await propagate(() => master.cliInput('newbie-password', 'user', 'add', 'newbie', '--password-stdin'));
    await r1.waitForLog((l) => r1.logs().indexOf(l) >= before && l.event === 'config-reloaded');
    const masterMark = await master.mark();
    expect((await radclient(master.target, SECRET, papRequest('newbie', 'newbie-password'))).code).toBe('Access-Accept');
    expect(await master.authAfter(masterMark, 'newbie')).toMatchObject({ result: 'accept', policy: 'initial-login' });
    const r1Mark = await r1.mark();
    expect((await radclient(r1.target, SECRET, papRequest('newbie', 'newbie-password'))).code).toBe('Access-Reject');
    const refused = await r1.authAfter(r1Mark, 'newbie');
    expect(refused).toMatchObject({ result: 'reject', reason: 'no-token' });
    expect(JSON.stringify(refused)).toContain('not granted on this node');
    await propagate(() => master.cliOk('user', 'remove', 'newbie'));
  });

  it('resumes from its last applied change after a restart, without a new snapshot', async () => {
    await r2.stop();
    await master.cliInput('carol-password', 'user', 'add', 'carol', '--password-stdin');
    await r2.start();
    await r2.waitForApplied(await master.headSeq());
    expect(r2.logs().some((l) => l.event === 'replication-snapshot')).toBe(false);
    expect((await users(r2)).map((u) => u.username)).toContain('carol');
  });

  it.skipIf(!canRunPam)('fails over with pam_radius_auth: master down, logins go through the replica; master back, replicas catch up', async () => {
    const pam = new PamService(master.dir, [
      { host: '127.0.0.1', port: master.port, secret: SECRET, timeout: 2 },
      { host: '127.0.0.1', port: r1.port, secret: SECRET, timeout: 2 },
    ]);
    try {
      // a user of its own for a login on r2 while the master is down (alice's codes are used on the master and r1)
      const frankSecret = await master.addUserWithToken('frank', 'frank-password');
      await r2.waitForApplied(await master.headSeq());
      await awaitFreshStep(15);
      const masterMark = await master.mark();
      const first = await pam.authenticate('alice', `alice-password${totpCode(aliceSecret)}`);
      expect(first.ok, first.output).toBe(true);
      expect(await master.authAfter(masterMark, 'alice')).toMatchObject({ result: 'accept' });

      await master.stop();
      await awaitFreshStep(15);
      const r1Mark = await r1.mark();
      const failover = await pam.authenticate('alice', `alice-password${totpCode(aliceSecret, 1)}`);
      expect(failover.ok, failover.output).toBe(true);
      expect(await r1.authAfter(r1Mark, 'alice')).toMatchObject({ result: 'accept', client: 'local' });
      // radclient against the other replica too: it keeps serving its last good state
      expect((await radclient(r2.target, SECRET, papRequest('alice', `wrong${totpCode(aliceSecret, -1)}`))).code).toBe('Access-Reject');
      const r2Mark = await r2.mark();
      expect((await radclient(r2.target, SECRET, papRequest('frank', `frank-password${totpCode(frankSecret)}`))).code).toBe('Access-Accept');
      expect(await r2.authAfter(r2Mark, 'frank')).toMatchObject({ result: 'accept' });

      await master.start();
      await master.cliInput('dave-password', 'user', 'add', 'dave', '--password-stdin');
      const seq = await master.headSeq();
      await Promise.all([r1.waitForApplied(seq, 30_000), r2.waitForApplied(seq, 30_000)]);
      expect((await users(r1)).map((u) => u.username)).toContain('dave');
      // the step used on r1 while the master was down reached the master once it was back
      const replay = await radclient(master.target, SECRET, papRequest('alice', `alice-password${totpCode(aliceSecret, 1)}`));
      expect(replay.code).toBe('Access-Reject');
    } finally {
      pam.remove();
    }
  });
});
