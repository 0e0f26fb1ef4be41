import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import tls from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent, request } from 'undici';
import { issueCertificate } from '@otpgate/master';
import { TestNode } from './helpers/test-node.js';
import { freePort } from './helpers/net.js';
import { papRequest, radclient } from './helpers/radclient.js';
import { awaitFreshStep, totpCode } from './helpers/otp.js';

const SECRET = 'testing123';

async function usernames(node: TestNode): Promise<string[]> {
  return (JSON.parse(await node.cliOk('user', 'list', '--json')) as { users: Array<{ username: string }> }).users.map((u) => u.username);
}

/** The folders a node's cluster files of a former role were set aside in, by prefix. */
function setAside(node: TestNode, prefix: string): string[] {
  return readdirSync(join(node.dir, 'data')).filter((name) => name.startsWith(`${prefix}-`));
}

/** The fingerprint of the certificate the master's replication API presents (connecting as `replica`). */
function presentedFingerprint(master: TestNode, replica: TestNode): Promise<string> {
  const cluster = join(replica.dir, 'data', 'cluster');
  return new Promise((resolve, reject) => {
    const socket = tls.connect(
      {
        host: '127.0.0.1',
        port: master.replicationPort,
        ca: readFileSync(join(cluster, 'ca.crt')),
        cert: readFileSync(join(cluster, 'client.crt')),
        key: readFileSync(join(cluster, 'client.key')),
      },
      () => {
        resolve(socket.getPeerCertificate().fingerprint256);
        socket.end();
      },
    );
    socket.on('error', reject);
  });
}

describe('renewing the master certificate, promoting a replica, the old master re-joining, removing a replica', () => {
  let m: TestNode;
  let r: TestNode;
  let aliceSecret = '';

  beforeAll(async () => {
    m = await TestNode.createMaster('promote-m');
    await m.addClient('local', '127.0.0.1', SECRET);
    aliceSecret = await m.addUserWithToken('alice', 'alice-password');
    await m.start();
    // the replication port r listens on once promoted
    const port = await freePort();
    r = await TestNode.createReplica('promote-r', m, undefined, { cluster: `  listen: ["127.0.0.1:${port}"]\n` });
    r.replicationPort = port;
    await r.start();
    await r.waitForApplied(await m.headSeq());
  });
  afterAll(async () => {
    await Promise.all([m?.stop(), r?.stop()]);
  });

  it('renews the replication API certificate for the same names; the running master presents it, replicas keep following', async () => {
    const certPath = join(m.dir, 'data', 'cluster', 'server.crt');
    const old = new X509Certificate(readFileSync(certPath));
    expect(await presentedFingerprint(m, r)).toBe(old.fingerprint256);
    const before = m.logs().length;
    const out = await m.cliOk('cluster', 'renew-certificate');
    expect(out).toContain('renewed for 127.0.0.1');
    const renewed = new X509Certificate(readFileSync(certPath));
    expect(renewed.fingerprint256).not.toBe(old.fingerprint256);
    expect(renewed.subjectAltName).toBe(old.subjectAltName);
    expect(renewed.checkIssued(new X509Certificate(readFileSync(join(m.dir, 'data', 'cluster', 'ca.crt'))))).toBe(true);
    expect(setAside(m, 'previous-server-certificate')).toHaveLength(1);
    await m.waitForLog((l) => m.logs().indexOf(l) >= before && l.event === 'replication-certificate-reloaded', 10_000);
    expect(await presentedFingerprint(m, r)).toBe(renewed.fingerprint256);
    await m.cliInput('bob-password', 'user', 'add', 'bob', '--password-stdin');
    await r.waitForApplied(await m.headSeq());
    expect(await usernames(r)).toContain('bob');
  });

  it('promotes the replica once the master is lost: it serves as the master and takes changes', async () => {
    await m.stop();
    await r.stop();
    const out = await r.cliOk('cluster', 'promote', '--host', '127.0.0.1');
    expect(out).toContain(`replicas connect to https://127.0.0.1:${r.replicationPort}`);
    // the replica's own cluster files are kept aside, not mixed with the new master's
    const [folder] = setAside(r, 'previous-replica');
    expect(readdirSync(join(r.dir, 'data', folder!)).sort()).toEqual(['ca.crt', 'client.crt', 'client.key', 'feed-public.jwk']);
    expect(readdirSync(join(r.dir, 'data', 'cluster')).sort()).toEqual(['ca.crt', 'ca.key', 'feed-public.jwk', 'feed-signing.jwk', 'server.crt', 'server.key']);
    await r.start();
    await r.cliInput('zed-password', 'user', 'add', 'zed', '--password-stdin');
    expect(await usernames(r)).toEqual(['alice', 'bob', 'zed']);
    await awaitFreshStep();
    expect((await radclient(r.target, SECRET, papRequest('alice', `alice-password${totpCode(aliceSecret)}`))).code).toBe('Access-Accept');
  });

  it('lets the old master re-join the new one with --force and apply its changes', async () => {
    const bundle = join(m.dir, 'm.bundle.json');
    await r.cliOk('cluster', 'add-replica', 'promote-m', '--out', bundle);
    const refused = await m.cli('replica', 'join', bundle);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('--force');
    const out = await m.cliOk('replica', 'join', bundle, '--force');
    // an admin action like any other: in the node's audit log and its log line (the command's, kept in cli.log)
    expect(readFileSync(join(m.dir, 'cli.log'), 'utf8')).toMatch(/"action":"replica\.join","target":"https:\/\/127\.0\.0\.1:\d+","replica":"promote-m","force":true/);
    const [folder] = setAside(m, 'previous-master');
    expect(out).toContain(`were moved to ${join(m.dir, 'data', folder!)}`);
    expect(readdirSync(join(m.dir, 'data', folder!))).toEqual(expect.arrayContaining(['ca.key', 'feed-signing.jwk', 'server.crt', 'server.key']));
    expect(readdirSync(join(m.dir, 'data', 'cluster')).sort()).toEqual(['ca.crt', 'client.crt', 'client.key', 'feed-public.jwk']);
    await m.start();
    await m.waitForApplied(await r.headSeq(), 20_000);
    expect(await usernames(m)).toEqual(['alice', 'bob', 'zed']);
    // the old master's server certificate no longer feeds the expiry metric
    expect(await m.metric('otpgate_certificate_expiry_timestamp_seconds', { certificate: 'replication-server' })).toBe(0);
    expect(await m.metric('otpgate_certificate_expiry_timestamp_seconds', { certificate: 'replica-client' })).toBeGreaterThan(0);
    await r.cliOk('user', 'set', 'zed', '--display-name', 'Zed');
    await m.waitForApplied(await r.headSeq());
    expect((await m.cli('user', 'add', 'mallory', '--no-password')).stderr).toContain('read-only replica');
  });

  it('refuses a removed replica, which says why and keeps serving its last good state', async () => {
    let before = m.logs().length;
    await r.cliOk('cluster', 'remove-replica', 'promote-m');
    // a change ends the long poll under way since before the removal; the request after it is refused
    await r.cliOk('user', 'set', 'alice', '--display-name', 'during the removal');
    const failure = await m.waitForLog((l) => m.logs().indexOf(l) >= before && l.event === 'replication-failure', 15_000);
    expect(failure.reason).toBe('refused');
    expect(String(failure.err)).toContain('the master answered 403: replica promote-m was removed from the cluster');
    expect(await m.metric('otpgate_replication_feed_failures_total', { reason: 'refused' })).toBeGreaterThan(0);
    expect(r.logs().some((l) => l.event === 'replication-refused' && String(l.reason).includes('was removed'))).toBe(true);
    before = m.logs().length;
    await r.cliOk('user', 'set', 'alice', '--display-name', 'after the removal');
    await m.waitForLog((l) => m.logs().indexOf(l) >= before && l.event === 'replication-failure' && l.reason === 'refused', 15_000);
    const status = JSON.parse(await m.cliOk('cluster', 'status', '--json')) as { last_error: string };
    expect(status.last_error).toContain('refused: the master answered 403');
    expect(JSON.parse(await m.cliOk('user', 'show', 'alice', '--json'))).not.toMatchObject({ display_name: 'after the removal' });
    await awaitFreshStep();
    expect((await radclient(m.target, SECRET, papRequest('alice', `alice-password${totpCode(aliceSecret, 1)}`))).code).toBe('Access-Accept');
  });

  it('refuses a certificate of the cluster CA for a name never enrolled', async () => {
    const cluster = join(r.dir, 'data', 'cluster');
    const ca = { certificate: readFileSync(join(cluster, 'ca.crt'), 'utf8'), key: readFileSync(join(cluster, 'ca.key'), 'utf8') };
    const stranger = await issueCertificate(ca, { commonName: 'stranger', usage: 'client', validityDays: 1 });
    const agent = new Agent({ connect: { ca: ca.certificate, cert: stranger.certificate, key: stranger.key } });
    try {
      const before = r.logs().length;
      const response = await request(`https://127.0.0.1:${r.replicationPort}/v1/snapshot`, { dispatcher: agent });
      expect(response.statusCode).toBe(403);
      expect(await response.body.json()).toEqual({ error: 'certificate stranger is not enrolled in this cluster' });
      await r.waitForLog((l) => r.logs().indexOf(l) >= before && l.event === 'replication-refused' && l.status === 403);
      expect(r.logs().slice(before).some((l) => l.event === 'replication-snapshot-build')).toBe(false);
    } finally {
      await agent.close();
    }
  });
});
