import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { ldapBackendSchema, type LdapBackendSettings } from '@otpgate/shared';
import type { PasswordResult } from '../src/backends/backend.js';
import { LdapPasswordBackend } from '../src/backends/ldap/ldap-backend.js';
import { ADMIN_DN, ADMIN_PASSWORD, BASE_DN, GROUPS_DN, PEOPLE_DN, bulkUser, startSlapd, userDn, type Slapd } from './helpers/slapd.js';
import { countingProxy, deadPort, hangingServer, type TcpServer } from './helpers/tcp.js';
import { createTestCa, type TestCa } from './helpers/tls-certs.js';

const logger = pino({ level: 'silent' });
const BULK = 60;

let ca: TestCa;
let otherCa: TestCa;
let slapd: Slapd;
let second: Slapd;
const backends: LdapPasswordBackend[] = [];
const servers: TcpServer[] = [];

beforeAll(async () => {
  ca = createTestCa();
  otherCa = createTestCa('some other CA');
  const cert = ca.issue(['DNS:localhost', 'IP:127.0.0.1']);
  [slapd, second] = await Promise.all([
    startSlapd({
      tls: { caCertificate: ca.certificate, ...cert, extraLdapsHosts: ['127.0.0.2'] },
      bulkUsers: BULK,
    }),
    startSlapd(),
  ]);
}, 30_000);

afterAll(async () => {
  await Promise.all([slapd?.stop(), second?.stop()]);
  ca?.dispose();
  otherCa?.dispose();
});

afterEach(async () => {
  await Promise.all(backends.splice(0).map((b) => b.close()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

function settings(overrides: Partial<LdapBackendSettings> = {}): LdapBackendSettings {
  return ldapBackendSchema.parse({
    type: 'ldap',
    name: 'ldap',
    servers: [slapd.url],
    bind_dn: ADMIN_DN,
    bind_password: ADMIN_PASSWORD,
    user_base_dn: BASE_DN,
    connect_timeout_ms: 1000,
    timeout_ms: 2000,
    ...overrides,
  });
}

function backend(overrides: Partial<LdapBackendSettings> = {}, downForMs?: number): LdapPasswordBackend {
  const b = new LdapPasswordBackend(settings(overrides), logger, downForMs === undefined ? {} : { downForMs });
  backends.push(b);
  return b;
}

async function tcp(server: Promise<TcpServer>): Promise<TcpServer> {
  const s = await server;
  servers.push(s);
  return s;
}

const verify = (b: LdapPasswordBackend, username: string, password: string) => b.verify({ username, passwordHash: null }, password);

function expectReject(r: PasswordResult, reason: string): void {
  expect(r).toMatchObject({ outcome: 'reject', backend: 'ldap', reason });
}

function expectError(r: PasswordResult, detail: RegExp): void {
  expect(r.outcome).toBe('error');
  if (r.outcome === 'error') expect(r.detail).toMatch(detail);
}

async function timed<T>(p: Promise<T>): Promise<[T, number]> {
  const t = performance.now();
  const v = await p;
  return [v, performance.now() - t];
}

const GROUP_MAP = { [`cn=vpn,${GROUPS_DN}`.toUpperCase()]: 'vpn-users', ADMINS: 'administrators', 'sales team': 'sales' };

describe('search then bind', () => {
  it('accepts the right password, rejects a wrong one and an unknown user', async () => {
    const b = backend();
    expect(await verify(b, 'alice', 'alice-secret')).toEqual({ outcome: 'accept', backend: 'ldap' });
    const wrong = await verify(b, 'alice', 'nope');
    expectReject(wrong, 'bad-password');
    expect(wrong.outcome === 'reject' && wrong.detail).toContain('invalidCredentials (49)');
    const unknown = await verify(b, 'nobody', 'whatever');
    expectReject(unknown, 'unknown-user');
    expect(unknown.outcome === 'reject' && unknown.detail).toContain('(&(objectClass=inetOrgPerson)(uid=nobody))');
  });

  it('escapes the user name in the filter: `*` and `)(uid=*` never match anyone', async () => {
    const b = backend();
    for (const name of ['*', ')(uid=*', '*)(|(uid=*', 'alice)(uid=*', 'ali*', '\\2a', 'alice\0']) {
      expectReject(await verify(b, name, 'alice-secret'), 'unknown-user');
    }
    // a name holding filter characters still matches its own entry, literally
    expect((await verify(b, 'star*user', 'star-secret')).outcome).toBe('accept');
    expectReject(await verify(b, 'star*', 'star-secret'), 'unknown-user');
  });

  it('refuses an empty password without binding (RFC 4513 unauthenticated bind)', async () => {
    const proxy = await tcp(countingProxy(slapd.port));
    const b = backend({ servers: [`ldap://127.0.0.1:${proxy.port}`] });
    const r = await verify(b, 'alice', '');
    expectReject(r, 'bad-password');
    expect(r.outcome === 'reject' && r.detail).toMatch(/empty password.*RFC 4513/);
    expect(proxy.accepted).toBe(0);
  });

  it('a filter matching two entries is an "ambiguous" backend error, not a guess', async () => {
    const r = await verify(backend(), 'dup', 'dup-secret');
    expectError(r, /more than one entry matches .*uid=dup,ou=people.*uid=dup,ou=staff.*unique attribute/);
  });

  it('bad service-account credentials are an error naming the account, never the password', async () => {
    const r = await verify(backend({ bind_password: 'wrong-admin-pw' }), 'alice', 'alice-secret');
    expectError(r, /service account bind as "cn=admin,dc=example,dc=com" refused: invalidCredentials \(49\).*check bind_dn and bind_password/);
    expect(JSON.stringify(r)).not.toMatch(/wrong-admin-pw|alice-secret/);
  });

  it('a user_filter that is not a filter is reported before any request', async () => {
    expectError(await verify(backend({ user_filter: '(uid={user}' }), 'alice', 'x'), /user_filter is not a valid LDAP filter/);
  });

  it('after close() it answers with an error', async () => {
    const b = backend();
    expect((await verify(b, 'bob', 'bob-secret')).outcome).toBe('accept');
    await b.close();
    expectError(await verify(b, 'bob', 'bob-secret'), /closed/);
  });
});

describe('groups', () => {
  it('maps memberOf values (DN or CN keys, any case) through group_map', async () => {
    const b = backend({ group_map: GROUP_MAP });
    const alice = await verify(b, 'alice', 'alice-secret');
    expect(alice.outcome === 'accept' && [...(alice.groups ?? [])].sort()).toEqual(['administrators', 'vpn-users']);
    expect(await verify(b, 'carol', 'carol-secret')).toMatchObject({ outcome: 'accept', groups: ['sales'] });
    expect(await verify(b, 'grace', 'grace-secret')).toMatchObject({ outcome: 'accept', groups: [] });
  });

  it('maps the groups found by a group search (group_base_dn, {dn} in group_filter)', async () => {
    const b = backend({ group_map: GROUP_MAP, group_base_dn: GROUPS_DN, group_attribute: 'noSuchAttribute' });
    const alice = await verify(b, 'alice', 'alice-secret');
    expect(alice.outcome === 'accept' && [...(alice.groups ?? [])].sort()).toEqual(['administrators', 'vpn-users']);
    expect(await verify(b, 'bob', 'bob-secret')).toMatchObject({ outcome: 'accept', groups: ['vpn-users'] });
  });

  it('without a group_map no groups are read or returned', async () => {
    const r = await verify(backend(), 'alice', 'alice-secret');
    expect(r).toEqual({ outcome: 'accept', backend: 'ldap' });
  });
});

describe('direct bind (bind_template)', () => {
  it('binds as the DN built from the template, DN-escaping the name', async () => {
    const b = backend({ bind_template: `uid={user},${PEOPLE_DN}`, bind_dn: '', bind_password: '' });
    expect((await verify(b, 'alice', 'alice-secret')).outcome).toBe('accept');
    expectReject(await verify(b, 'alice', 'wrong'), 'bad-password');
    // "comma,user" must stay one RDN value: uid=comma\,user
    expect((await verify(b, 'comma,user', 'comma-secret')).outcome).toBe('accept');
    expectReject(await verify(b, 'comma,ou=people', 'comma-secret'), 'bad-password');
  });

  it('reads the groups with the user\'s own connection when there is no service account', async () => {
    const b = backend({ bind_template: `uid={user},${PEOPLE_DN}`, bind_dn: '', bind_password: '', group_map: GROUP_MAP });
    expect(await verify(b, 'bob', 'bob-secret')).toMatchObject({ outcome: 'accept', groups: ['vpn-users'] });
  });
});

/** slapd's AD lookalikes are inetOrgPerson entries with a uid, which the AD default filter would not find. */
const AD_LOOKALIKE = { active_directory: true, user_filter: '(&(objectClass=inetOrgPerson)(uid={user}))' };

describe('Active Directory account state (slapd with AD lookalike attributes)', () => {
  it('disabled and locked refuse before binding; expired only once the password is proven', async () => {
    const b = backend(AD_LOOKALIKE);
    expect((await verify(b, 'grace', 'grace-secret')).outcome).toBe('accept');
    const disabled = await verify(b, 'dave', 'not-even-the-password');
    expectReject(disabled, 'disabled');
    expect(disabled.outcome === 'reject' && disabled.detail).toContain('userAccountControl 0x202');
    expectReject(await verify(b, 'erin', 'erin-secret'), 'locked');
    expectReject(await verify(b, 'frank', 'frank-secret'), 'password-expired');
    expectReject(await verify(b, 'frank', 'wrong'), 'bad-password');
    // slapd's 49 has no AD sub-code: a plain wrong password
    expectReject(await verify(b, 'grace', 'wrong'), 'bad-password');
  });
});

describe('looking a user up without a password (a directory admin\'s session re-check)', () => {
  it('reads with the service account the groups verify would report, or why the user is not there', async () => {
    const b = backend({ group_map: GROUP_MAP });
    const alice = await b.lookup('alice');
    expect(alice.outcome === 'accept' && [...(alice.groups ?? [])].sort()).toEqual(['administrators', 'vpn-users']);
    expectReject(await b.lookup('nobody'), 'unknown-user');
    expectReject(await b.lookup('*'), 'unknown-user');
    const ad = backend(AD_LOOKALIKE);
    expectReject(await ad.lookup('dave'), 'disabled');
    expectReject(await ad.lookup('erin'), 'locked');
    expect((await ad.lookup('grace')).outcome).toBe('accept');
    // a DN template: the entry at the DN built from it
    expect(await backend({ bind_template: `uid={user},${PEOPLE_DN}`, group_map: GROUP_MAP }).lookup('bob')).toMatchObject({ outcome: 'accept', groups: ['vpn-users'] });
  });
});

describe('TLS', () => {
  it('StartTLS and LDAPS with the generated CA', async () => {
    const startTls = backend({ start_tls: true, ca_certificates: ca.certificate });
    expect((await verify(startTls, 'alice', 'alice-secret')).outcome).toBe('accept');
    const ldaps = backend({ servers: [slapd.ldapsUrl!], ca_certificates: ca.certificate });
    expect((await verify(ldaps, 'alice', 'alice-secret')).outcome).toBe('accept');
    expectReject(await verify(ldaps, 'alice', 'wrong'), 'bad-password');
  });

  it('refuses a server certificate from another CA (verify on), accepts it with verify off', async () => {
    const r1 = await verify(backend({ servers: [slapd.ldapsUrl!], ca_certificates: otherCa.certificate }), 'alice', 'alice-secret');
    expectError(r1, /TLS failed .*add the issuing CA to ca_certificates/);
    const r2 = await verify(backend({ start_tls: true, ca_certificates: otherCa.certificate }), 'alice', 'alice-secret');
    expectError(r2, /StartTLS.*TLS failed/);
    const off = backend({ servers: [slapd.ldapsUrl!], ca_certificates: otherCa.certificate, verify_certificate: false });
    expect((await verify(off, 'alice', 'alice-secret')).outcome).toBe('accept');
  });

  it('refuses a host name the certificate does not name', async () => {
    const url = slapd.ldapsUrl!.replace('127.0.0.1', '127.0.0.2');
    const r = await verify(backend({ servers: [url], ca_certificates: ca.certificate }), 'alice', 'alice-secret');
    expectError(r, /ERR_TLS_CERT_ALTNAME_INVALID.*subjectAltName/);
  });
});

describe('failures and failover', () => {
  it('a server nobody listens on gives an error at once', async () => {
    const port = await deadPort();
    const [r, ms] = await timed(verify(backend({ servers: [`ldap://127.0.0.1:${port}`] }), 'alice', 'alice-secret'));
    expectError(r, /no LDAP server answered.*cannot connect \(ECONNREFUSED/);
    expect(ms).toBeLessThan(1000);
  });

  it('a server that accepts but never answers gives an error within the timeouts (plain, StartTLS, LDAPS)', async () => {
    const hang = await tcp(hangingServer());
    const limits = { connect_timeout_ms: 300, timeout_ms: 400 };
    for (const s of [
      { servers: [`ldap://127.0.0.1:${hang.port}`] },
      { servers: [`ldap://127.0.0.1:${hang.port}`], start_tls: true },
      { servers: [`ldaps://127.0.0.1:${hang.port}`] },
    ]) {
      const [r, ms] = await timed(verify(backend({ ...s, ...limits }), 'alice', 'alice-secret'));
      expectError(r, /no answer|timed out/);
      expect(ms).toBeLessThan(1500);
    }
  });

  it('a non-routable address (TEST-NET-1) gives an error within connect_timeout_ms', async () => {
    const b = backend({ servers: ['ldap://192.0.2.1:389'], connect_timeout_ms: 300, timeout_ms: 300 });
    const [r, ms] = await timed(verify(b, 'alice', 'alice-secret'));
    // no route at all (ENETUNREACH) or packets into the void (our connect timeout): either way, quickly
    expectError(r, /192\.0\.2\.1:389: connect: (no answer in time|cannot connect)/);
    expect(ms).toBeLessThan(1000);
  });

  it('fails over from a dead first server to a live second slapd', async () => {
    const port = await deadPort();
    const b = backend({ servers: [`ldap://127.0.0.1:${port}`, second.url], group_map: GROUP_MAP });
    expect(await verify(b, 'bob', 'bob-secret')).toMatchObject({ outcome: 'accept', groups: ['vpn-users'] });
    expectReject(await verify(b, 'bob', 'wrong'), 'bad-password');
  });

  it('remembers a hanging server as down: later requests go straight to the next one', async () => {
    const hang = await tcp(hangingServer());
    const b = backend({ servers: [`ldap://127.0.0.1:${hang.port}`, second.url], connect_timeout_ms: 300, timeout_ms: 300 });
    const [first, ms1] = await timed(verify(b, 'alice', 'alice-secret'));
    expect(first.outcome).toBe('accept');
    expect(ms1).toBeGreaterThanOrEqual(250);
    const accepted = hang.accepted;
    const [again, ms2] = await timed(verify(b, 'bob', 'bob-secret'));
    expect(again.outcome).toBe('accept');
    expect(ms2).toBeLessThan(250);
    expect(hang.accepted).toBe(accepted);
  });

  it('tries a server again once its down period is over', async () => {
    const hang = await tcp(hangingServer());
    const b = backend({ servers: [`ldap://127.0.0.1:${hang.port}`, second.url], connect_timeout_ms: 200, timeout_ms: 200 }, 300);
    expect((await verify(b, 'alice', 'alice-secret')).outcome).toBe('accept');
    const accepted = hang.accepted;
    await new Promise((r) => setTimeout(r, 350));
    expect((await verify(b, 'alice', 'alice-secret')).outcome).toBe('accept');
    expect(hang.accepted).toBeGreaterThan(accepted);
  });
});

describe('under load and in the log', () => {
  it('200 concurrent requests against a hanging first server all fail over, none waiting on a connection of its own', async () => {
    const hang = await tcp(hangingServer());
    const b = backend({ servers: [`ldap://127.0.0.1:${hang.port}`, second.url], connect_timeout_ms: 1000, timeout_ms: 1000, pool_size: 4 });
    const results = await Promise.all(Array.from({ length: 200 }, () => verify(b, 'carol', 'carol-secret')));
    expect(results.every((r) => r.outcome === 'accept')).toBe(true);
    // never more than the pool's 2 x pool_size connections to the dead server: the requests share their timeouts
    expect(hang.peak).toBeLessThanOrEqual(8);
  });

  it('logs which server answered, once per outage, and never a password', async () => {
    const lines: string[] = [];
    const log = pino({ level: 'debug' }, { write: (l: string) => void lines.push(l) });
    const hang = await tcp(hangingServer());
    const b = new LdapPasswordBackend(
      settings({ servers: [`ldap://127.0.0.1:${hang.port}`, second.url], connect_timeout_ms: 200, timeout_ms: 200 }),
      log,
    );
    backends.push(b);
    await Promise.all([verify(b, 'alice', 'alice-secret'), verify(b, 'bob', 'bob-wrong-pw')]);
    await verify(b, 'carol', 'carol-secret');
    const all = lines.join('');
    expect(all).not.toMatch(/alice-secret|bob-wrong-pw|carol-secret|adminpw/);
    const answered = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === 'ldap server answered');
    expect(answered).toHaveLength(3);
    expect(answered.every((l) => l.server === second.url)).toBe(true);
    expect(lines.filter((l) => l.includes('trying the next one'))).toHaveLength(1);
  });
});

describe('connection pool', () => {
  it('200 concurrent verifies are all answered correctly over at most 2 × pool_size connections', async () => {
    const proxy = await tcp(countingProxy(slapd.port));
    const b = backend({ servers: [`ldap://127.0.0.1:${proxy.port}`], pool_size: 4, group_map: GROUP_MAP });
    const run = () =>
      Promise.all(
        Array.from({ length: 200 }, async (_, i) => {
          const u = bulkUser(i % BULK);
          const right = i % 3 !== 0;
          const r = await verify(b, u.uid, right ? u.password : 'wrong');
          return right ? r.outcome === 'accept' : r.outcome === 'reject' && r.reason === 'bad-password';
        }),
      );
    expect((await run()).every(Boolean)).toBe(true);
    expect(proxy.peak).toBeLessThanOrEqual(8);
    const opened = proxy.accepted;
    expect((await run()).every(Boolean)).toBe(true);
    // the second burst reuses the pooled connections
    expect(proxy.accepted).toBe(opened);
  });

  it('replaces pooled connections the server has dropped', async () => {
    const proxy = await tcp(countingProxy(slapd.port));
    const b = backend({ servers: [`ldap://127.0.0.1:${proxy.port}`], group_map: GROUP_MAP });
    expect((await verify(b, 'alice', 'alice-secret')).outcome).toBe('accept');
    const opened = proxy.accepted;
    proxy.dropAll(); // a slapd restart or idle timeout
    await new Promise((r) => setTimeout(r, 50));
    expect(await verify(b, 'bob', 'bob-secret')).toMatchObject({ outcome: 'accept', groups: ['vpn-users'] });
    expect(proxy.accepted).toBeGreaterThan(opened);
    // dropped while a request is in flight: that request may fail over or error, the next one works again
    const inFlight = verify(b, 'alice', 'alice-secret');
    proxy.dropAll();
    expect(['accept', 'error']).toContain((await inFlight).outcome);
    expect((await verify(b, 'carol', 'carol-secret')).outcome).toBe('accept');
  });
});

describe('testConnection', () => {
  it('reports each server, the service bind, the user found and the mapped groups', async () => {
    const port = await deadPort();
    const b = backend({ servers: [`ldap://127.0.0.1:${port}`, slapd.url], start_tls: true, ca_certificates: ca.certificate, group_map: GROUP_MAP });
    const report = await b.testConnection('alice');
    expect(report.ok).toBe(false); // the first server is down
    const byStep = Object.fromEntries(report.steps.map((s) => [s.step, s]));
    expect(byStep[`connect ldap://127.0.0.1:${port}`]).toMatchObject({ ok: false, detail: expect.stringMatching(/ECONNREFUSED/) });
    expect(byStep[`connect ${slapd.url}`]).toMatchObject({ ok: true, detail: expect.stringMatching(/TLSv1\.[23] \(StartTLS\).*verified/) });
    expect(byStep[`bind ${slapd.url}`]).toMatchObject({ ok: true, detail: expect.stringContaining(ADMIN_DN) });
    expect(byStep['look up "alice"']).toMatchObject({ ok: true, detail: expect.stringContaining(userDn({ uid: 'alice' })) });
    expect(byStep.groups).toMatchObject({ ok: true, detail: expect.stringMatching(/cn=vpn,ou=groups.*otpgate groups via group_map: .*vpn-users/) });
  });

  it('shows what the server answered to a bad service password and an unknown user', async () => {
    const bad = await backend({ bind_password: 'nope' }).testConnection('alice');
    expect(bad.ok).toBe(false);
    expect(bad.steps.find((s) => s.step.startsWith('bind'))).toMatchObject({ ok: false, detail: expect.stringMatching(/invalidCredentials \(49\)/) });
    expect(JSON.stringify(bad)).not.toContain('nope"');
    const unknown = await backend().testConnection('nobody');
    expect(unknown.steps.at(-1)).toMatchObject({ step: 'look up "nobody"', ok: false, detail: expect.stringMatching(/no entry matches/) });
    const fine = await backend(AD_LOOKALIKE).testConnection('grace');
    expect(fine.ok).toBe(true);
    expect(fine.steps.find((s) => s.step === 'account state')).toMatchObject({ ok: true, detail: expect.stringContaining('0x200') });
  });
});
