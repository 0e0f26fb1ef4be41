import { cpSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCa, issueCertificate } from '@otpgate/master';
import { TestNode } from './helpers/test-node.js';
import { FeedProxy, type ProxiedReplica } from './helpers/feed-proxy.js';
import { papRequest, radclient } from './helpers/radclient.js';
import { awaitFreshStep, totpCode } from './helpers/otp.js';

const SECRET = 'testing123';

async function displayName(node: TestNode, user: string): Promise<string> {
  return (JSON.parse(await node.cliOk('user', 'show', user, '--json')) as { display_name: string }).display_name;
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
});

describe('a master restored from an older backup', () => {
  it('makes its replica re-sync to the restored state from a snapshot', async () => {
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
      await master.stop();
      rmSync(join(master.dir, 'data'), { recursive: true });
      cpSync(backup, join(master.dir, 'data'), { recursive: true });
      await master.start();
      const before = replica.logs().length;
      await replica.waitForLog((l) => replica.logs().indexOf(l) >= before && l.event === 'replication-snapshot', 30_000);
      const names = (JSON.parse(await replica.cliOk('user', 'list', '--json')) as { users: Array<{ username: string }> }).users.map((u) => u.username);
      expect(names).toEqual(['alice']);
      expect(await displayName(replica, 'alice')).toBe('');
    } finally {
      await Promise.all([master.stop(), replica.stop()]);
    }
  });
});
