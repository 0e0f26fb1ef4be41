import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestNode } from './helpers/test-node.js';
import { papRequest, radclient } from './helpers/radclient.js';
import { awaitFreshStep, totpCode } from './helpers/otp.js';
import { ADMIN_DN, ADMIN_PASSWORD, GROUPS_DN, PEOPLE_DN, startSlapd, type Slapd } from '../packages/core/test/helpers/slapd.js';
import { createTestCa, type TestCa } from '../packages/core/test/helpers/tls-certs.js';
import { FakeEntra } from '../packages/core/test/helpers/fake-entra.js';

const SECRET = 'testing123';

interface AuthLogRow {
  username: string;
  client: string;
  nas_ip: string;
  calling_station: string;
  result: string;
  reason: string | null;
  backend: string | null;
  policy: string | null;
}

describe('directory and cloud backends through RADIUS (slapd, a local Entra token endpoint)', () => {
  let node: TestNode;
  let ca: TestCa;
  let slapd: Slapd;
  let spare: Slapd;
  let entra: FakeEntra;
  const secrets: Record<string, string> = {};

  const ldapArgs = (name: string, servers: string[], ...extra: string[]) => [
    'backend', 'add-ldap', name,
    ...servers.flatMap((s) => ['--server', s]),
    '--bind-dn', ADMIN_DN, '--bind-password-stdin',
    '--base-dn', PEOPLE_DN,
    '--group-map', `cn=vpn,${GROUPS_DN}=vpn`,
    ...extra,
  ];

  async function login(user: string, password: string, extra: string[] = []): Promise<string> {
    return (await radclient(node.target, SECRET, papRequest(user, password, extra))).code;
  }

  async function lastAuth(user: string): Promise<AuthLogRow> {
    return (JSON.parse(await node.cliOk('authlog', '--user', user, '--limit', '1', '--json')) as AuthLogRow[])[0]!;
  }

  beforeAll(async () => {
    ca = createTestCa();
    const cert = ca.issue(['IP:127.0.0.1', 'DNS:localhost']);
    [slapd, spare] = await Promise.all([startSlapd({ tls: { caCertificate: ca.certificate, ...cert } }), startSlapd()]);
    entra = await FakeEntra.start({
      tenants: ['contoso.onmicrosoft.com'],
      apps: { 'app-1': { publicClient: true } },
      users: {
        'erin@contoso.com': { password: 'erin-cloud-pw', scenario: 'mfa-required' },
        'nomfa@contoso.com': { password: 'nomfa-cloud-pw', scenario: 'no-mfa' },
        'alice@contoso.com': { password: 'alice-cloud-pw', scenario: 'mfa-basic-action' },
      },
    });
    node = await TestNode.create('backends');
    const caFile = join(node.dir, 'ldap-ca.pem');
    writeFileSync(caFile, ca.certificate);
    const entraCa = join(node.dir, 'entra-ca.pem');
    writeFileSync(entraCa, entra.caCertificate);
    await node.cliInput(ADMIN_PASSWORD, ...ldapArgs('corp', [slapd.url], '--start-tls', '--ca-file', caFile));
    await node.cliInput(ADMIN_PASSWORD, ...ldapArgs('corp-ldaps', [slapd.ldapsUrl!], '--ca-file', caFile));
    // the first server is down: failover to the second, plain slapd
    await node.cliInput(ADMIN_PASSWORD, ...ldapArgs('failover', ['ldap://127.0.0.1:9', spare.url], '--timeout-ms', '1000'));
    await node.cliInput(ADMIN_PASSWORD, ...ldapArgs('wrong-ca', [slapd.ldapsUrl!], '--ca-file', entraCa));
    await node.cliInput(ADMIN_PASSWORD, ...ldapArgs('down', ['ldap://127.0.0.1:9'], '--timeout-ms', '1000'));
    await node.cliOk('backend', 'add-entra', 'cloud', '--authority', entra.authority, '--tenant', 'contoso.onmicrosoft.com', '--client-id', 'app-1', '--upn-domain', 'contoso.com', '--ca-file', entraCa);
    await node.configure('settings', 'set', 'auth.backends', '["corp"]');
    await node.cliOk('group', 'add', 'vpn', '--attr', 'Filter-Id=vpn-users');
    await node.addClient('nas', '127.0.0.1', SECRET);
    for (const user of ['alice', 'bob', 'carol', 'nobody', 'erin', 'nomfa']) secrets[user] = await node.addUserWithToken(user, null);
    // second tokens keep the tests below independent of the steps and drift earlier tests used
    for (const user of ['alice', 'bob', 'carol']) secrets[`${user}2`] = await node.addToken(user);
    await node.start();
    // some thirty CLI calls: slow when the whole suite shares two cores
  }, 180_000);
  afterAll(async () => {
    await node?.stop();
    await Promise.all([slapd?.stop(), spare?.stop(), entra?.close()]);
    ca?.dispose();
  });

  it('accepts the directory password + code over StartTLS, with the reply attributes of the mapped directory group', async () => {
    await awaitFreshStep();
    const reply = await radclient(node.target, SECRET, papRequest('alice', `alice-secret${totpCode(secrets.alice!)}`, ['NAS-IP-Address = 192.0.2.7', 'Calling-Station-Id = "203.0.113.9"']));
    expect(reply.code).toBe('Access-Accept');
    expect(reply.attributes.get('Filter-Id')).toEqual(['vpn-users']);
    // carol is in the directory but not in a mapped group: no reply attributes
    const carol = await radclient(node.target, SECRET, papRequest('carol', `carol-secret${totpCode(secrets.carol!)}`));
    expect(carol.code).toBe('Access-Accept');
    expect(carol.attributes.has('Filter-Id')).toBe(false);
    expect(await lastAuth('alice')).toMatchObject({ client: 'nas', nas_ip: '192.0.2.7', calling_station: '203.0.113.9', result: 'accept', backend: 'corp' });
  });

  it('rejects a wrong directory password and a user the directory does not know, with the reasons in the audit record', async () => {
    await awaitFreshStep();
    expect(await login('bob', `not-bobs${totpCode(secrets.bob!)}`)).toBe('Access-Reject');
    expect(await lastAuth('bob')).toMatchObject({ result: 'reject', reason: 'bad-password', backend: 'corp' });
    expect(await login('nobody', `whatever${totpCode(secrets.nobody!)}`)).toBe('Access-Reject');
    expect(await lastAuth('nobody')).toMatchObject({ result: 'reject', reason: 'unknown-user' });
  });

  it('uses LDAPS, fails over from a dead server, and refuses a certificate from another CA', async () => {
    await awaitFreshStep(12);
    await node.configure('settings', 'set', 'auth.backends', '["corp-ldaps"]');
    expect(await login('alice', `alice-secret${totpCode(secrets.alice2!)}`)).toBe('Access-Accept');
    expect(await lastAuth('alice')).toMatchObject({ result: 'accept', backend: 'corp-ldaps' });
    await node.configure('settings', 'set', 'auth.backends', '["failover"]');
    expect(await login('bob', `bob-secret${totpCode(secrets.bob2!)}`)).toBe('Access-Accept');
    expect(await lastAuth('bob')).toMatchObject({ result: 'accept', backend: 'failover' });
    await node.configure('settings', 'set', 'auth.backends', '["wrong-ca"]');
    expect(await login('carol', `carol-secret${totpCode(secrets.carol2!)}`)).toBe('Access-Reject');
    expect(await lastAuth('carol')).toMatchObject({ result: 'reject', reason: 'backend-error', backend: 'wrong-ca' });
    await node.configure('settings', 'set', 'auth.backends', '["corp"]');
  });

  it('with the directory down: rejects as backend-error, or stays silent for a client set to drop (the NAS fails over)', async () => {
    const secret = await node.addUserWithToken('dave', null);
    await awaitFreshStep(12);
    await node.configure('settings', 'set', 'auth.backends', '["down"]');
    expect(await login('dave', `dave-anything${totpCode(secret)}`)).toBe('Access-Reject');
    expect(await lastAuth('dave')).toMatchObject({ reason: 'backend-error', backend: 'down' });
    await node.configure('client', 'set', 'nas', '--on-backend-error', 'drop');
    expect(await login('alice', `alice-secret${totpCode(secrets.alice2!, 1)}`)).toBe('no-reply');
    await node.waitForLog((l) => l.cause === 'backend-error');
    // the dropped request did not use the code up: with the directory back, the NAS's retry succeeds
    await node.configure('client', 'set', 'nas', '--on-backend-error', 'reject');
    await node.configure('settings', 'set', 'auth.backends', '["down", "corp"]');
    expect(await login('alice', `alice-secret${totpCode(secrets.alice2!, 1)}`)).toBe('Access-Accept');
    await node.configure('settings', 'set', 'auth.backends', '["corp"]');
  });

  it('checks the password at Entra ID (MFA-required answers mean the password is right) and the code locally', async () => {
    await awaitFreshStep();
    await node.configure('client', 'set', 'nas', '--backend', 'cloud');
    expect(await login('erin', `erin-cloud-pw${totpCode(secrets.erin!)}`)).toBe('Access-Accept');
    expect(await login('erin', `wrong-pw${totpCode(secrets.erin!, 1)}`)).toBe('Access-Reject');
    expect(await lastAuth('erin')).toMatchObject({ reason: 'bad-password', backend: 'cloud' });
    // an account without MFA got a token for the password alone: refused by default
    expect(await login('nomfa', `nomfa-cloud-pw${totpCode(secrets.nomfa!)}`)).toBe('Access-Reject');
    expect(await lastAuth('nomfa')).toMatchObject({ reason: 'single-factor-not-allowed' });
    const sent = entra.requests.find((r) => r.form.username === 'erin@contoso.com');
    expect(sent?.form).toMatchObject({ grant_type: 'password', client_id: 'app-1', username: 'erin@contoso.com', password: 'erin-cloud-pw' });
    await node.configure('client', 'set', 'nas', '--default-backends');
  });

  it('chains backends: the directory down, Entra ID answers', async () => {
    await awaitFreshStep();
    await node.configure('settings', 'set', 'auth.backends', '["down", "cloud"]');
    const secret = await node.addToken('alice');
    expect(await login('alice', `alice-cloud-pw${totpCode(secret)}`)).toBe('Access-Accept');
    expect(await lastAuth('alice')).toMatchObject({ result: 'accept', backend: 'cloud' });
    await node.configure('settings', 'set', 'auth.backends', '["corp"]');
  });

  it('reports what the directory answered with "backend test"', async () => {
    const ok = JSON.parse(await node.cliOk('backend', 'test', 'corp', '--user', 'alice', '--json')) as { ok: boolean; steps: Array<{ step: string; detail: string }> };
    expect(ok.ok).toBe(true);
    expect(JSON.stringify(ok.steps)).toContain('uid=alice');
    const down = await node.cli('backend', 'test', 'down', '--json');
    expect(down.code).toBe(1);
    expect((JSON.parse(down.stdout) as { ok: boolean }).ok).toBe(false);
  });
});

describe('realms and password-only policies', () => {
  let node: TestNode;
  const secrets: Record<string, string> = {};

  beforeAll(async () => {
    node = await TestNode.create('policies');
    await node.addClient('nas', '127.0.0.1', SECRET);
    await node.addClient('legacy', '127.0.0.5', SECRET, '--single-factor');
    await node.configure('settings', 'set', 'auth.realms', '[{"name": "example.com", "aliases": ["EXAMPLE"]}]');
    await node.cliOk('group', 'add', 'service-accounts');
    secrets.alice = await node.addUserWithToken('alice', 'alice-password');
    await node.cliInput('backup-password', 'user', 'add', 'svc-backup', '--password-stdin', '--group', 'service-accounts');
    await node.cliInput('newbie-password', 'user', 'add', 'newbie', '--password-stdin');
    await node.configure('settings', 'set', 'auth.single_factor.groups', '["service-accounts"]');
    await node.start();
  });
  afterAll(async () => {
    await node?.stop();
  });

  it('strips user@realm and DOMAIN\\user of a known realm; an unknown realm is part of the name', async () => {
    await awaitFreshStep();
    expect((await radclient(node.target, SECRET, papRequest('alice@example.com', `alice-password${totpCode(secrets.alice!)}`))).code).toBe('Access-Accept');
    expect((await radclient(node.target, SECRET, papRequest('EXAMPLE\\\\alice', `alice-password${totpCode(secrets.alice!, 1)}`))).code).toBe('Access-Accept');
    const mark = await node.mark();
    expect((await radclient(node.target, SECRET, papRequest('alice@other.org', `alice-password${totpCode(secrets.alice!, -1)}`))).code).toBe('Access-Reject');
    expect(await node.authAfter(mark)).toMatchObject({ reason: 'unknown-user' });
  });

  it('lets a service-account group member in with the password alone, logged as single-factor', async () => {
    const mark = await node.mark();
    expect((await radclient(node.target, SECRET, papRequest('svc-backup', 'backup-password'))).code).toBe('Access-Accept');
    expect(await node.authAfter(mark, 'svc-backup')).toMatchObject({ result: 'accept', policy: 'single-factor' });
    expect((await radclient(node.target, SECRET, papRequest('svc-backup', 'wrong'))).code).toBe('Access-Reject');
  });

  it('gives a single-factor client password-only logins for everyone, and no other client', async () => {
    const { RawClient, accessRequest } = await import('./helpers/raw-radius.js');
    const legacy = await RawClient.open('127.0.0.5');
    try {
      legacy.send(accessRequest({ username: 'alice', password: 'alice-password', secret: SECRET }), node.port);
      expect((await legacy.next())?.[0]).toBe(2);
    } finally {
      legacy.close();
    }
    expect((await radclient(node.target, SECRET, papRequest('alice', 'alice-password'))).code).toBe('Access-Reject');
  });

  it('grants a new user without a token the initial-login allowance, max_logins times', async () => {
    let mark = await node.mark();
    expect((await radclient(node.target, SECRET, papRequest('newbie', 'newbie-password'))).code).toBe('Access-Reject');
    expect(await node.authAfter(mark, 'newbie')).toMatchObject({ reason: 'no-token' });
    await node.configure('settings', 'set', 'auth.initial_login', '{"enabled": true, "days": 7, "max_logins": 2}');
    for (let i = 0; i < 2; i++) {
      mark = await node.mark();
      expect((await radclient(node.target, SECRET, papRequest('newbie', 'newbie-password'))).code).toBe('Access-Accept');
      expect(await node.authAfter(mark, 'newbie')).toMatchObject({ policy: 'initial-login' });
    }
    expect((await radclient(node.target, SECRET, papRequest('newbie', 'newbie-password'))).code).toBe('Access-Reject');
  });
});
