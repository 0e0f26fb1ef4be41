import { cpSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCa, issueCertificate } from '@otpgate/master';
import { TestNode, type LogLine } from './helpers/test-node.js';
import { FeedProxy, type ProxiedReplica } from './helpers/feed-proxy.js';
import { papRequest, radclient } from './helpers/radclient.js';
import { awaitFreshStep, totpCode } from './helpers/otp.js';
import { eventually } from './helpers/eventually.js';

const SECRET = 'testing123';

async function displayName(node: TestNode, user: string): Promise<string> {
  return (JSON.parse(await node.cliOk('user', 'show', user, '--json')) as { display_name: string }).display_name;
}

async function usernames(node: TestNode): Promise<string[]> {
  return (JSON.parse(await node.cliOk('user', 'list', '--json')) as { users: Array<{ username: string }> }).users.map((u) => u.username);
}

describe('a replica behind a tampering man in the middle', () => {
  let master: TestNode;
  let replica: TestNode;
  let proxy: FeedProxy;
  let aliceSecret = '';
  let good: { cert: string; key: string };

  beforeAll(async () => {
    master = await TestNode.createMaster('tamper-master');
    await master.addClient('local', '127.0.0.1', SECRET);
    aliceSecret = await master.addUserWithToken('alice', 'alice-password');
    await master.start();
    const masterUrl = `https://127.0.0.1:${master.replicationPort}`;
    const clusterDir = join(master.dir, 'data', 'cluster');
    // the proxy first presents the master's own certificate, so the replica's first sync goes through
    good = { cert: readFileSync(join(clusterDir, 'server.crt'), 'utf8'), key: readFileSync(join(clusterDir, 'server.key'), 'utf8') };
    proxy = new FeedProxy(masterUrl, join(master.dir, 'data'));
    await proxy.start(good);
    replica = await TestNode.createReplica('tamper-replica', master, (bundle) => {
      proxy.setReplica(bundle as unknown as ProxiedReplica);
      bundle.master_url = proxy.url;
    });
    await replica.start();
  });
  afterAll(async () => {
    await Promise.all([master?.stop(), replica?.stop(), proxy?.stop()]);
  });

  /** Make a change on the master while the proxy is in `mode`; expect the replica to refuse it for `reason`. */
  async function refused(mode: FeedProxy['mode'], reason: string, name: string): Promise<void> {
    proxy.mode = mode;
    const before = replica.logs().length;
    await master.cliOk('user', 'set', 'alice', '--display-name', name);
    const failure = await replica.waitForLog((l) => replica.logs().indexOf(l) >= before && l.event === 'replication-failure', 15_000);
    expect(failure.reason).toBe(reason);
    expect(await displayName(replica, 'alice')).not.toBe(name);
  }

  it('refuses an edited entry (signature breaks), an edited and re-signed entry (hash breaks) and a truncated body', async () => {
    await refused('modify-entry', 'bad-signature', 'Alice One');
    await refused('modify-entry-resigned', 'tampered', 'Alice Two');
    await refused('truncate', 'bad-signature', 'Alice Three');
    // still serving the last good state meanwhile
    await awaitFreshStep();
    expect((await radclient(replica.target, SECRET, papRequest('alice', `alice-password${totpCode(aliceSecret)}`))).code).toBe('Access-Accept');
  });

  it('refuses a master certificate from another CA, and an expired one from the right CA', async () => {
    proxy.mode = 'pass';
    const otherCa = await createCa('another-cluster');
    const foreign = await issueCertificate(otherCa, { commonName: '127.0.0.1', usage: 'server', hosts: ['127.0.0.1'], validityDays: 30 });
    // the count before the switch: the replica's next poll may fail before the change below is even made
    const tlsFailures = await replica.metric('otpgate_replication_feed_failures_total', { reason: 'tls-verification' });
    proxy.useCertificate({ cert: foreign.certificate, key: foreign.key });
    let before = replica.logs().length;
    await master.cliOk('user', 'set', 'alice', '--display-name', 'Alice Four');
    let failure = await replica.waitForLog((l) => replica.logs().indexOf(l) >= before && l.event === 'replication-failure', 15_000);
    // counted apart from an unreachable master, so the verification alert fires for a man in the middle
    expect(failure).toMatchObject({ reason: 'tls-verification', level: 'error' });
    expect(String(failure.err)).toMatch(/fails verification \(UNABLE_TO_\w+/);
    expect(await replica.metric('otpgate_replication_feed_failures_total', { reason: 'tls-verification' })).toBeGreaterThan(tlsFailures);

    const clusterDir = join(master.dir, 'data', 'cluster');
    const ca = { certificate: readFileSync(join(clusterDir, 'ca.crt'), 'utf8'), key: readFileSync(join(clusterDir, 'ca.key'), 'utf8') };
    const expired = await issueCertificate(ca, {
      commonName: '127.0.0.1',
      usage: 'server',
      hosts: ['127.0.0.1'],
      validityDays: 1,
      notBefore: new Date(Date.now() - 10 * 86_400_000),
    });
    const beforeExpired = await replica.metric('otpgate_replication_feed_failures_total', { reason: 'tls-verification' });
    proxy.useCertificate({ cert: expired.certificate, key: expired.key });
    before = replica.logs().length;
    // a failure against the foreign certificate may still be logged after the switch: wait for the expired one
    failure = await replica.waitForLog(
      (l) => replica.logs().indexOf(l) >= before && l.event === 'replication-failure' && /CERT_HAS_EXPIRED/.test(String(l.err)),
      15_000,
    );
    expect(failure.reason).toBe('tls-verification');
    expect(await replica.metric('otpgate_replication_feed_failures_total', { reason: 'tls-verification' })).toBeGreaterThan(beforeExpired);
    expect(await displayName(replica, 'alice')).not.toBe('Alice Four');
  });

  it('loses nothing: with the real certificate back, every change made meanwhile arrives', async () => {
    proxy.useCertificate(good);
    await replica.waitForApplied(await master.headSeq(), 20_000);
    expect(await displayName(replica, 'alice')).toBe('Alice Four');
  });

  it('refuses signed answers recorded earlier and replayed: an old "re-sync" answer and an old snapshot bring nothing back', async () => {
    await master.cliInput('gone-password', 'user', 'add', 'gone', '--password-stdin');
    await replica.waitForApplied(await master.headSeq());
    // collected from the master with a cluster certificate (the replica's own) while "gone" exists
    const resync = await proxy.record('/v1/changes?after=999999&wait=0');
    expect(JSON.parse(resync.body.toString())).toHaveProperty('resync');
    const snapshot = await proxy.record('/v1/snapshot');
    await master.cliOk('user', 'remove', 'gone');
    await replica.waitForApplied(await master.headSeq());
    const replayedBefore = await replica.metric('otpgate_replication_feed_failures_total', { reason: 'replayed' });
    let before = replica.logs().length;
    proxy.replay.set('/v1/changes', resync);
    proxy.replay.set('/v1/snapshot', snapshot);
    const failure = await replica.waitForLog((l) => replica.logs().indexOf(l) >= before && l.event === 'replication-failure', 15_000);
    expect(failure.reason).toBe('replayed');
    expect(String(failure.err)).toContain('signed for another request');
    // and the old snapshot itself, when the replica asks for one
    await replica.cliOk('replica', 'resync');
    await eventually('the replica to be sent the old snapshot', async () => proxy.served('/v1/snapshot') > 0);
    before = replica.logs().length;
    expect((await replica.waitForLog((l) => replica.logs().indexOf(l) >= before && l.event === 'replication-failure', 15_000)).reason).toBe('replayed');
    expect(await replica.metric('otpgate_replication_feed_failures_total', { reason: 'replayed' })).toBeGreaterThan(replayedBefore);
    expect(await usernames(replica)).not.toContain('gone');
    // the master's own answers again: the re-sync asked for goes through, still without "gone"
    before = replica.logs().length;
    proxy.replay.clear();
    await replica.waitForLog((l) => replica.logs().indexOf(l) >= before && l.event === 'replication-snapshot', 15_000);
    expect(await usernames(replica)).not.toContain('gone');
  });

  it('re-syncs from a snapshot when the feed has a gap', async () => {
    await master.cliInput('bob-password', 'user', 'add', 'bob', '--password-stdin');
    await master.cliInput('JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP', 'hardware', 'add', 'HW-1', '--secret-stdin');
    await replica.waitForApplied(await master.headSeq());
    // assigning a hardware token is one commit of two entries; the proxy drops the first and re-signs
    proxy.mode = 'drop-entry-resigned';
    const before = replica.logs().length;
    await master.cliOk('token', 'assign', 'HW-1', 'bob');
    const failure = await replica.waitForLog((l) => replica.logs().indexOf(l) >= before && l.event === 'replication-failure', 15_000);
    expect(failure.reason).toBe('gap');
    await replica.waitForLog((l) => replica.logs().indexOf(l) >= before && l.event === 'replication-snapshot', 15_000);
    proxy.mode = 'pass';
    const hardware = JSON.parse(await replica.cliOk('hardware', 'list', '--json')) as Array<{ serial: string; assigned_to: string | null }>;
    expect(hardware).toMatchObject([{ serial: 'HW-1', assigned_to: 'bob' }]);
  });

  it('refuses the master\'s old certificate (same CA, still valid) once it has seen the renewed one', async () => {
    proxy.mode = 'pass';
    const clusterDir = join(master.dir, 'data', 'cluster');
    await master.cliOk('cluster', 'renew-certificate');
    const renewed = { cert: readFileSync(join(clusterDir, 'server.crt'), 'utf8'), key: readFileSync(join(clusterDir, 'server.key'), 'utf8') };
    expect(renewed.cert).not.toBe(good.cert);
    proxy.useCertificate(renewed);
    await master.cliOk('user', 'set', 'alice', '--display-name', 'Alice Renewed');
    await replica.waitForApplied(await master.headSeq(), 15_000);
    expect(await displayName(replica, 'alice')).toBe('Alice Renewed');

    // someone holding the old certificate and its key (set aside on the master by the renewal) poses as the master
    proxy.useCertificate(good);
    const before = replica.logs().length;
    await master.cliOk('user', 'set', 'alice', '--display-name', 'Alice Retired');
    const failure = await replica.waitForLog(
      (l) => replica.logs().indexOf(l) >= before && l.event === 'replication-failure' && /ERR_TLS_CERT_RETIRED/.test(String(l.err)),
      15_000,
    );
    expect(failure).toMatchObject({ reason: 'tls-verification', level: 'error' });
    expect(String(failure.err)).toContain('replaced by "otpgate cluster renew-certificate"');
    expect(await displayName(replica, 'alice')).toBe('Alice Renewed');
    // the RADIUS threads' channel to the master holds to the same rule: a one-time VPN credential, which only the
    // master can confirm, is refused rather than confirmed through the impostor
    const issued = JSON.parse(await master.cliOk('vpn-credential', 'issue', 'alice', '--json')) as { password: string };
    master.noteSecret(issued.password);
    const mark = await replica.mark();
    expect((await radclient(replica.target, SECRET, papRequest('alice', issued.password))).code).toBe('Access-Reject');
    expect(await replica.authAfter(mark, 'alice')).toMatchObject({ result: 'reject', reason: 'unconfirmed' });
    const unconfirmed = await replica.waitForLog((l) => replica.logs().indexOf(l) >= before && l.event === 'replay-claim-unavailable', 15_000);
    expect(String(unconfirmed.err)).toContain('replaced by "otpgate cluster renew-certificate"');
    proxy.useCertificate(renewed);
    await replica.waitForApplied(await master.headSeq(), 20_000);
    expect(await displayName(replica, 'alice')).toBe('Alice Retired');
  });
});

describe('a master restored from an older backup', () => {
  it('is not followed by its replica until the operator allows the rollback; then the replica re-syncs to it', { timeout: 150_000 }, async () => {
    const master = await TestNode.createMaster('restore-master');
    await master.addClient('local', '127.0.0.1', SECRET);
    await master.addUserWithToken('alice', 'alice-password');
    await master.start();
    const replica = await TestNode.createReplica('restore-replica', master);
    await replica.start();
    try {
      await master.stop();
      const backup = join(master.dir, 'backup');
      cpSync(join(master.dir, 'data'), backup, { recursive: true });
      await master.start();
      await master.cliInput('later-password', 'user', 'add', 'later', '--password-stdin');
      await master.cliOk('user', 'set', 'alice', '--display-name', 'changed after the backup');
      await replica.waitForApplied(await master.headSeq());
      const replicaHead = await replica.headSeq();
      await master.stop();
      rmSync(join(master.dir, 'data'), { recursive: true });
      cpSync(backup, join(master.dir, 'data'), { recursive: true });
      let before = replica.logs().length;
      await master.start();
      const refusal = (l: LogLine) => replica.logs().indexOf(l) >= before && l.event === 'replication-failure' && l.reason === 'rollback-refused';
      const refused = await replica.waitForLog(refusal, 30_000);
      expect(refused.level).toBe('error');
      expect(String(refused.err)).toMatch(/the master is at change \d+, behind this replica's/);
      expect(String(refused.err)).toContain('run "otpgate replica resync --allow-rollback" on this replica');
      expect(await replica.metric('otpgate_replication_feed_failures_total', { reason: 'rollback-refused' })).toBeGreaterThan(0);
      // it keeps serving its own state, and says why it is not following
      expect(await usernames(replica)).toEqual(['alice', 'later']);
      expect(await displayName(replica, 'alice')).toBe('changed after the backup');
      expect((JSON.parse(await replica.cliOk('cluster', 'status', '--json')) as { last_error: string }).last_error).toContain('rollback-refused');

      // the restored master changes further, past the replica's change number: a different history, still refused
      before = replica.logs().length;
      for (let i = 0; (await master.headSeq()) <= replicaHead; i++) await master.cliOk('user', 'add', `restored-${i}`, '--no-password');
      await replica.waitForLog((l) => refusal(l) && String(l.err).includes('history was rewritten'), 30_000);
      expect(await usernames(replica)).toEqual(['alice', 'later']);

      before = replica.logs().length;
      await replica.cliOk('replica', 'resync', '--allow-rollback');
      const rollback = await replica.waitForLog((l) => replica.logs().indexOf(l) >= before && l.event === 'replication-rollback', 30_000);
      expect(rollback).toMatchObject({ level: 'warn', from: replicaHead, to: await master.headSeq() });
      expect((await usernames(replica)).filter((u) => !u.startsWith('restored-'))).toEqual(['alice']);
      expect(await displayName(replica, 'alice')).toBe('');
      // the permission served once; the replica follows the master as usual again
      await master.cliOk('user', 'set', 'alice', '--display-name', 'after the restore');
      await replica.waitForApplied(await master.headSeq());
      expect(await displayName(replica, 'alice')).toBe('after the restore');
      expect(readFileSync(join(replica.dir, 'cli.log'), 'utf8')).toContain('"action":"replica.resync"');
    } finally {
      await Promise.all([master.stop(), replica.stop()]);
    }
  });
});
