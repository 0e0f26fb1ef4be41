import { createServer } from 'node:net';
import { Writable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { entraBackendSchema, type RejectReason } from '@otpgate/shared';
import { EntraPasswordBackend } from '../src/backends/entra/entra-backend.js';
import { classifyAadsts } from '../src/backends/entra/entra-errors.js';
import { createLogger } from '../src/logger.js';
import { FakeEntra, createTestPki, type EntraScenario, type FakeUser } from './helpers/fake-entra.js';

const TENANT = 'contoso.onmicrosoft.com';
const DOMAIN = 'contoso.com';
const PUBLIC_APP = '0b6a1a52-6d0e-4c1f-9d8e-5a1d2f3c4b5a';
const CONFIDENTIAL_APP = '7c2e9f10-3b4d-4e5f-8a9b-0c1d2e3f4a5b';
const CLIENT_SECRET = 'Xy8Q~client-secret-value';
const PASSWORD = 'Correct-Horse-Battery-9';

const SCENARIOS: EntraScenario[] = [
  'mfa-required',
  'mfa-basic-action',
  'mfa-enrol',
  'external-challenge',
  'no-mfa',
  'conditional-access',
  'locked',
  'disabled',
  'password-expired',
  'no-password',
  'no-consent',
  'unknown-code',
  'server-error',
  'bad-gateway',
  'hang',
];
/** One user per scenario: "<scenario>@contoso.com". */
const USERS: Record<string, FakeUser> = Object.fromEntries(SCENARIOS.map((s) => [`${s}@${DOMAIN}`, { password: PASSWORD, scenario: s }]));

let fake: FakeEntra;
const open: EntraPasswordBackend[] = [];
let logLines: string[] = [];

beforeAll(async () => {
  fake = await FakeEntra.start({
    tenants: [TENANT, '9188040d-6c67-4c5b-b112-36a304b66dad'],
    apps: { [PUBLIC_APP]: { publicClient: true }, [CONFIDENTIAL_APP]: { publicClient: false, secret: CLIENT_SECRET } },
    users: USERS,
  });
});

afterAll(async () => {
  await fake.close();
});

afterEach(async () => {
  await Promise.all(open.splice(0).map((b) => b.close()));
  logLines = [];
});

function backend(overrides: Record<string, unknown> = {}): EntraPasswordBackend {
  const settings = entraBackendSchema.parse({
    type: 'entra',
    name: 'entra',
    authority: fake.authority,
    tenant: TENANT,
    client_id: PUBLIC_APP,
    upn_domain: DOMAIN,
    ca_certificates: fake.caCertificate,
    timeout_ms: 3000,
    ...overrides,
  });
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logLines.push(chunk.toString('utf8'));
      done();
    },
  });
  const b = new EntraPasswordBackend(settings, createLogger('debug', 'test', sink));
  open.push(b);
  return b;
}

const subject = (username: string) => ({ username, passwordHash: null });

describe('EntraPasswordBackend.verify: the AADSTS table', () => {
  const rejects: Array<[string, number, RejectReason, string]> = [
    ['conditional-access', 53003, 'conditional-access', PASSWORD],
    ['mfa-required', 50126, 'bad-password', 'wrong-password'],
    ['no-password', 50056, 'bad-password', PASSWORD],
    ['nobody', 50034, 'unknown-user', PASSWORD],
    ['locked', 50053, 'locked', PASSWORD],
    ['disabled', 50057, 'disabled', PASSWORD],
    ['password-expired', 50055, 'password-expired', PASSWORD],
  ];

  it.each([
    ['mfa-required', '50076 as interaction_required'],
    ['mfa-basic-action', '50076 as invalid_grant + suberror basic_action'],
    ['mfa-enrol', '50079'],
    ['external-challenge', '50158'],
  ])('%s (%s): the password is right, accepted so otpgate checks the code', async (user) => {
    expect(await backend().verify(subject(user), PASSWORD)).toEqual({ outcome: 'accept', backend: 'entra' });
  });

  it.each(rejects)('%s -> AADSTS%i -> reject %s', async (user, code, reason, password) => {
    const result = await backend().verify(subject(user), password);
    expect(result).toMatchObject({ outcome: 'reject', backend: 'entra', reason });
    const detail = 'detail' in result ? result.detail : '';
    expect(detail).toContain(`AADSTS${code}`);
    // the first line of error_description, not the trace/correlation lines, never the password
    expect(detail).not.toMatch(/Trace ID|Correlation ID/);
    expect(detail).not.toContain(password);
  });

  it.each([
    ['no-consent', /AADSTS65001.*consent/],
    ['unknown-code', /AADSTS50196/],
    ['server-error', /HTTP 500.*AADSTS90033/],
    ['bad-gateway', /HTTP 502.*not JSON.*502 Bad Gateway/],
  ])('%s -> backend error', async (user, detail) => {
    const result = await backend().verify(subject(user), PASSWORD);
    expect(result).toMatchObject({ outcome: 'error', backend: 'entra' });
    expect('detail' in result && result.detail).toMatch(detail);
  });

  it('the reject detail carries the code and the first line of error_description', async () => {
    const result = await backend().verify(subject('locked'), PASSWORD);
    expect(result).toMatchObject({
      detail: expect.stringMatching(/AADSTS50053 invalid_grant: The account is locked, you've tried to sign in too many times/),
    });
  });
});

describe('EntraPasswordBackend.verify: misconfiguration is a backend error naming the fix', () => {
  it('7000218: confidential app without client_secret -> allow public client flows', async () => {
    const result = await backend({ client_id: CONFIDENTIAL_APP }).verify(subject('mfa-required'), PASSWORD);
    expect(result).toMatchObject({ outcome: 'error', detail: expect.stringMatching(/AADSTS7000218.*HTTP 401|HTTP 401.*AADSTS7000218/) });
    expect('detail' in result && result.detail).toMatch(/Allow public client flows/);
  });

  it('a confidential app with its client_secret works, and the secret is sent', async () => {
    const before = fake.requests.length;
    const result = await backend({ client_id: CONFIDENTIAL_APP, client_secret: CLIENT_SECRET }).verify(subject('mfa-required'), PASSWORD);
    expect(result.outcome).toBe('accept');
    expect(fake.requests[before]?.form.client_secret).toBe(CLIENT_SECRET);
  });

  it('700016: unknown application id -> check client_id', async () => {
    const result = await backend({ client_id: '00000000-1111-2222-3333-444444444444' }).verify(subject('mfa-required'), PASSWORD);
    expect(result).toMatchObject({ outcome: 'error', detail: expect.stringMatching(/AADSTS700016.*client_id/) });
  });

  it('90002: unknown tenant -> check tenant', async () => {
    const result = await backend({ tenant: 'fabrikam.onmicrosoft.com' }).verify(subject('mfa-required'), PASSWORD);
    expect(result).toMatchObject({ outcome: 'error', detail: expect.stringMatching(/tenant not found.*AADSTS90002.*check tenant/) });
  });

  it('the tenant id works as well as the domain', async () => {
    const result = await backend({ tenant: '9188040d-6c67-4c5b-b112-36a304b66dad' }).verify(subject('mfa-required'), PASSWORD);
    expect(result.outcome).toBe('accept');
  });
});

describe('EntraPasswordBackend.verify: an account without MFA', () => {
  it('is rejected by default (single-factor-not-allowed), logged with the UPN only', async () => {
    const result = await backend().verify(subject('no-mfa'), PASSWORD);
    expect(result).toMatchObject({ outcome: 'reject', reason: 'single-factor-not-allowed', detail: expect.stringMatching(/no MFA|requires no MFA/) });
    const warnings = logLines.map((l) => JSON.parse(l) as { level: string; upn?: string; msg: string }).filter((l) => l.level === 'warn');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ upn: `no-mfa@${DOMAIN}`, msg: expect.stringMatching(/refused/) });
    const log = logLines.join('');
    expect(log).not.toContain(PASSWORD);
    expect(log).not.toContain('eyJ'); // no JWT (access_token, id_token)
  });

  it('is accepted with accept_without_mfa, and still logged', async () => {
    const result = await backend({ accept_without_mfa: true }).verify(subject('no-mfa'), PASSWORD);
    expect(result).toEqual({ outcome: 'accept', backend: 'entra' });
    expect(logLines.join('')).toMatch(/"level":"warn".*accept_without_mfa/);
    expect(logLines.join('')).not.toContain('eyJ');
  });

  it('a wrong password on such an account is still a bad password', async () => {
    expect(await backend({ accept_without_mfa: true }).verify(subject('no-mfa'), 'nope-nope')).toMatchObject({ outcome: 'reject', reason: 'bad-password' });
  });
});

describe('EntraPasswordBackend.verify: transport', () => {
  it('a hanging endpoint is an error within timeout_ms', async () => {
    const started = performance.now();
    const result = await backend({ timeout_ms: 300 }).verify(subject('hang'), PASSWORD);
    const elapsed = performance.now() - started;
    expect(result).toMatchObject({ outcome: 'error', detail: expect.stringMatching(/no answer within 300 ms/) });
    expect(elapsed).toBeGreaterThanOrEqual(280);
    expect(elapsed).toBeLessThan(300 + 400);
  });

  it('refuses a certificate from an untrusted CA (strict TLS by default), sending nothing', async () => {
    const before = fake.requests.length;
    const result = await backend({ ca_certificates: '' }).verify(subject('mfa-required'), PASSWORD);
    expect(result).toMatchObject({ outcome: 'error', detail: expect.stringMatching(/TLS: server certificate refused/) });
    const otherPki = await createTestPki();
    const other = await backend({ ca_certificates: otherPki.ca }).verify(subject('mfa-required'), PASSWORD);
    expect(other).toMatchObject({ outcome: 'error', detail: expect.stringMatching(/TLS: server certificate refused/) });
    expect(fake.requests.length).toBe(before);
  });

  it('an unreachable endpoint is an error', async () => {
    const port = await closedPort();
    const result = await backend({ authority: `https://127.0.0.1:${port}` }).verify(subject('mfa-required'), PASSWORD);
    expect(result).toMatchObject({ outcome: 'error', detail: expect.stringMatching(/ECONNREFUSED/) });
  });

  it('reuses one TLS connection for consecutive requests (keep-alive)', async () => {
    const b = backend();
    const before = fake.connections;
    for (let i = 0; i < 3; i++) {
      expect((await b.verify(subject('mfa-required'), PASSWORD)).outcome).toBe('accept');
      // undici's pool marks a socket free a tick after the body ends; back-to-back calls may open a second one
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(fake.connections - before).toBe(1);
  });
});

describe('EntraPasswordBackend.verify: the request', () => {
  it('never sends an empty password', async () => {
    const before = fake.requests.length;
    expect(await backend().verify(subject('mfa-required'), '')).toMatchObject({ outcome: 'reject', reason: 'missing-password' });
    expect(fake.requests.length).toBe(before);
  });

  it('POSTs the ROPC form to /{tenant}/oauth2/v2.0/token, user name made a UPN, no client_secret when unset', async () => {
    const before = fake.requests.length;
    await backend().verify(subject('mfa-required'), PASSWORD);
    const request = fake.requests[before]!;
    expect(request).toMatchObject({ method: 'POST', path: `/${TENANT}/oauth2/v2.0/token`, contentType: 'application/x-www-form-urlencoded' });
    expect(request.form).toEqual({ grant_type: 'password', client_id: PUBLIC_APP, scope: 'openid', username: `mfa-required@${DOMAIN}`, password: PASSWORD });
  });

  it('keeps a name that already has an @, and sends the bare name without upn_domain', async () => {
    const before = fake.requests.length;
    await backend().verify(subject(`Locked@${DOMAIN}`), PASSWORD);
    await backend({ upn_domain: '' }).verify(subject('locked'), PASSWORD);
    expect(fake.requests.slice(before).map((r) => r.form.username)).toEqual([`Locked@${DOMAIN}`, 'locked']);
  });

  it('sends the configured scope', async () => {
    const before = fake.requests.length;
    await backend({ scope: 'https://graph.microsoft.com/.default' }).verify(subject('mfa-required'), PASSWORD);
    expect(fake.requests[before]?.form.scope).toBe('https://graph.microsoft.com/.default');
  });
});

describe('EntraPasswordBackend.testConnection', () => {
  const detailOf = (steps: Array<{ step: string; detail: string }>, step: string) => steps.find((s) => s.step === step)?.detail;

  it('a made-up user: AADSTS50034 shows the tenant and app are reachable and configured', async () => {
    const before = fake.requests.length;
    const report = await backend().testConnection();
    expect(report.ok).toBe(true);
    expect(detailOf(report.steps, 'token endpoint')).toMatch(/HTTP 400$/);
    expect(detailOf(report.steps, 'error')).toBe('invalid_grant');
    expect(detailOf(report.steps, 'error_codes')).toBe('[50034]');
    expect(detailOf(report.steps, 'error_description')).toMatch(/^The user account \{EUII Hidden\} does not exist/);
    expect(detailOf(report.steps, 'tenant and app')).toMatch(/reachable and configured/);
    expect(fake.requests[before]?.form.username).toMatch(new RegExp(`^otpgate-connection-test-[0-9a-f]+@${DOMAIN}$`));
  });

  it('a real user name gets a wrong password: AADSTS50126, reachable and configured', async () => {
    const before = fake.requests.length;
    const report = await backend().testConnection('mfa-required');
    expect(report.ok).toBe(true);
    expect(detailOf(report.steps, 'error_codes')).toBe('[50126]');
    expect(fake.requests[before]?.form).toMatchObject({ username: `mfa-required@${DOMAIN}` });
    expect(fake.requests[before]?.form.password).not.toBe(PASSWORD);
  });

  it('an unknown tenant: AADSTS90002, not ok', async () => {
    const report = await backend({ tenant: 'fabrikam.onmicrosoft.com' }).testConnection();
    expect(report.ok).toBe(false);
    expect(detailOf(report.steps, 'error_codes')).toBe('[90002]');
    expect(detailOf(report.steps, 'error_description')).toMatch(/^Tenant 'fabrikam.onmicrosoft.com' not found/);
    expect(detailOf(report.steps, 'tenant and app')).toMatch(/tenant not found.*check tenant/);
  });

  it('an unknown app: AADSTS700016, not ok', async () => {
    const report = await backend({ client_id: '00000000-1111-2222-3333-444444444444' }).testConnection();
    expect(report.ok).toBe(false);
    expect(detailOf(report.steps, 'error')).toBe('unauthorized_client');
    expect(detailOf(report.steps, 'error_codes')).toBe('[700016]');
    expect(detailOf(report.steps, 'tenant and app')).toMatch(/application not found.*client_id/);
  });

  it('public client flows off: AADSTS7000218, not ok', async () => {
    const report = await backend({ client_id: CONFIDENTIAL_APP }).testConnection();
    expect(report).toMatchObject({ ok: false });
    expect(detailOf(report.steps, 'tenant and app')).toMatch(/Allow public client flows/);
  });

  it('an unreachable endpoint: one failed step', async () => {
    const port = await closedPort();
    const report = await backend({ authority: `https://127.0.0.1:${port}` }).testConnection();
    expect(report).toMatchObject({ ok: false, steps: [{ step: 'token endpoint', ok: false }] });
  });
});

describe('classifyAadsts', () => {
  it('follows the table; unknown or missing codes are errors', () => {
    expect(classifyAadsts(50076).outcome).toBe('accept');
    expect(classifyAadsts(50079).outcome).toBe('accept');
    expect(classifyAadsts(50158).outcome).toBe('accept');
    expect(classifyAadsts(53003)).toMatchObject({ outcome: 'reject', reason: 'conditional-access' });
    expect(classifyAadsts(50126)).toMatchObject({ outcome: 'reject', reason: 'bad-password' });
    expect(classifyAadsts(50056)).toMatchObject({ outcome: 'reject', reason: 'bad-password' });
    expect(classifyAadsts(50034)).toMatchObject({ outcome: 'reject', reason: 'unknown-user' });
    expect(classifyAadsts(50053)).toMatchObject({ outcome: 'reject', reason: 'locked' });
    expect(classifyAadsts(50057)).toMatchObject({ outcome: 'reject', reason: 'disabled' });
    expect(classifyAadsts(50055)).toMatchObject({ outcome: 'reject', reason: 'password-expired' });
    for (const code of [7000218, 700016, 90002, 65001]) expect(classifyAadsts(code)).toMatchObject({ outcome: 'error', fix: expect.any(String) });
    expect(classifyAadsts(50196).outcome).toBe('error');
    expect(classifyAadsts(undefined).outcome).toBe('error');
  });

  it('treats the whole 5300x family as Conditional Access and interaction_required as a right password', () => {
    for (const code of [53000, 53001, 53002, 53004, 53011]) {
      expect(classifyAadsts(code, 'invalid_grant'), `AADSTS${code}`).toMatchObject({ outcome: 'reject', reason: 'conditional-access' });
    }
    // the table wins over the error value; the error value decides only for codes the table does not know
    expect(classifyAadsts(53003, 'interaction_required')).toMatchObject({ outcome: 'reject', reason: 'conditional-access' });
    expect(classifyAadsts(50126, 'interaction_required')).toMatchObject({ outcome: 'reject', reason: 'bad-password' });
    expect(classifyAadsts(50097, 'interaction_required').outcome).toBe('accept');
    expect(classifyAadsts(undefined, 'interaction_required').outcome).toBe('accept');
    expect(classifyAadsts(50097, 'invalid_grant').outcome).toBe('error');
    expect(classifyAadsts(50074).outcome).toBe('accept');
  });
});

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
