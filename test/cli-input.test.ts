import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { TestNode } from './helpers/test-node.js';
import type { CliResult } from './helpers/cli.js';

const AD_FILTER = '(&(objectClass=user)(|(sAMAccountName={user})(userPrincipalName={user})))';
const LDAP_FILTER = '(&(objectClass=inetOrgPerson)(uid={user}))';

/** Refused as bad input: a message naming what is wrong, a non-zero exit, never a stack trace. */
function expectRefused(r: CliResult, message: string | RegExp): void {
  expect(r.code).not.toBe(0);
  expect(r.stderr).toMatch(message);
  expect(r.stderr).not.toMatch(/\n\s+at /);
  expect(r.stderr).not.toContain('unexpected error');
}

/** A self-signed certificate and key valid from `start` to `end` (openssl ca: `req -x509` cannot back-date). */
function certificate(dir: string, name: string, start: string, end: string): { cert: string; key: string } {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'index.txt'), '');
  writeFileSync(join(dir, 'serial'), '01\n');
  writeFileSync(join(dir, 'ca.cnf'), '[ca]\ndefault_ca=d\n[d]\ndatabase=index.txt\nnew_certs_dir=.\nserial=serial\ndefault_md=sha256\npolicy=p\n[p]\ncommonName=supplied\n');
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  execFileSync('openssl', ['req', '-new', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}.example.test`], { cwd: dir, stdio: 'ignore' });
  execFileSync('openssl', ['ca', '-batch', '-config', 'ca.cnf', '-selfsign', '-keyfile', `${name}.key`, '-in', `${name}.csr`, '-out', `${name}.crt`, '-startdate', start, '-enddate', end], {
    cwd: dir,
    stdio: 'ignore',
  });
  return { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
}

/** openssl's YYYYMMDDHHMMSSZ, `days` from now. */
function opensslDate(days: number): string {
  return `${new Date(Date.now() + days * 86_400_000).toISOString().replace(/[-:T]/g, '').slice(0, 14)}Z`;
}

describe('the otpgate command refuses bad input with a clear message', () => {
  let node: TestNode;

  beforeAll(async () => {
    node = await TestNode.create('cli-input');
  });

  it.each([
    ['remove', 'abc'],
    ['enable', 'abc'],
    ['disable', '1x'],
    ['reset-replay', 'abc'],
    ['resync', 'abc', '123456', '654321'],
    ['window', 'abc', '--past', '1', '--future', '1'],
  ])('token %s with a token id that is not a number', async (command, ...args) => {
    expectRefused(await node.cli('token', command, ...args), /value '(abc|1x)' is invalid for argument 'id'\. expected a whole number/);
  });

  it('token window with a window that is neither a number nor "default"', async () => {
    expectRefused(await node.cli('token', 'window', '1', '--past', 'two', '--future', 'default'), /'--past <n\|default>' argument 'two' is invalid\. expected a whole number or "default"/);
  });

  it('token window: a number sets the token\'s own window, "default" clears it back to the setting', async () => {
    await node.addUserWithToken('windowed', null);
    // (the user list tests below count users: this one goes again)
    const window = async () => {
      const [t] = JSON.parse(await node.cliOk('token', 'list', 'windowed', '--json')) as Array<{ id: number; window_past: number | null; window_future: number | null }>;
      return t!;
    };
    const { id } = await window();
    await node.cliOk('token', 'window', String(id), '--past', '2', '--future', '3');
    expect(await window()).toMatchObject({ window_past: 2, window_future: 3 });
    await node.cliOk('token', 'window', String(id), '--past', 'default', '--future', 'default');
    expect(await window()).toMatchObject({ window_past: null, window_future: null });
    await node.cliOk('user', 'remove', 'windowed');
  });

  it('a valid token id still reaches the service', async () => {
    expectRefused(await node.cli('token', 'remove', '424242'), 'otpgate: token "424242" does not exist');
  });

  it('user list --limit must be a whole number of at least 1', async () => {
    expectRefused(await node.cli('user', 'list', '--limit', 'abc'), /'--limit <n>' argument 'abc' is invalid\. expected a whole number/);
    expectRefused(await node.cli('user', 'list', '--limit', '0'), /argument '0' is invalid\. expected a whole number of at least 1/);
    expectRefused(await node.cli('authlog', '--limit', '-5'), /argument '-5' is invalid\. expected a whole number of at least 1/);
  });

  it('user list --status takes only active or disabled', async () => {
    await node.cliOk('user', 'add', 'dora', '--no-password');
    await node.cliOk('user', 'add', 'dan', '--no-password');
    await node.cliOk('user', 'disable', 'dan');
    expectRefused(await node.cli('user', 'list', '--status', 'bogus'), /argument 'bogus' is invalid\. Allowed choices are active, disabled/);
    const disabled = JSON.parse(await node.cliOk('user', 'list', '--status', 'disabled', '--json')) as { users: Array<{ username: string }> };
    expect(disabled.users.map((u) => u.username)).toEqual(['dan']);
    const limited = JSON.parse(await node.cliOk('user', 'list', '--limit', '1', '--json')) as { total: number; users: unknown[] };
    expect(limited).toMatchObject({ total: 2, users: [expect.anything()] });
  });
});

describe('backend add-ldap / set-ldap switch options on and off', () => {
  let node: TestNode;

  beforeAll(async () => {
    node = await TestNode.create('cli-ldap');
  });

  async function stored(name: string): Promise<Record<string, unknown>> {
    const list = JSON.parse(await node.cliOk('backend', 'list', '--json')) as Array<Record<string, unknown>>;
    return list.find((b) => b.name === name)!;
  }

  it('Active Directory without --filter searches by sAMAccountName or UPN, and the default follows the directory type', async () => {
    await node.cliOk('backend', 'add-ldap', 'ad', '--server', 'ldap://127.0.0.1:9', '--active-directory');
    expect(await stored('ad')).toMatchObject({ active_directory: true, user_filter: AD_FILTER });
    await node.cliOk('backend', 'set-ldap', 'ad', '--no-active-directory');
    expect(await stored('ad')).toMatchObject({ active_directory: false, user_filter: LDAP_FILTER });
    await node.cliOk('backend', 'set-ldap', 'ad', '--active-directory');
    expect(await stored('ad')).toMatchObject({ active_directory: true, user_filter: AD_FILTER });
  });

  it('a filter of the admin\'s own stays when the directory type changes', async () => {
    await node.cliOk('backend', 'add-ldap', 'own', '--server', 'ldap://127.0.0.1:9', '--filter', '(cn={user})');
    await node.cliOk('backend', 'set-ldap', 'own', '--active-directory');
    expect(await stored('own')).toMatchObject({ active_directory: true, user_filter: '(cn={user})' });
  });

  it('StartTLS, certificate checks and nested groups go back and forth; the connect timeout is set', async () => {
    await node.cliOk('backend', 'add-ldap', 'flags', '--server', 'ldap://127.0.0.1:9', '--start-tls', '--no-verify-certificate', '--nested-groups', '--connect-timeout-ms', '700');
    expect(await stored('flags')).toMatchObject({ start_tls: true, verify_certificate: false, nested_groups: true, connect_timeout_ms: 700 });
    await node.cliOk('backend', 'set-ldap', 'flags', '--no-start-tls', '--verify-certificate', '--no-nested-groups', '--connect-timeout-ms', '1500');
    expect(await stored('flags')).toMatchObject({ start_tls: false, verify_certificate: true, nested_groups: false, connect_timeout_ms: 1500 });
    // options not given keep their value
    await node.cliOk('backend', 'set-ldap', 'flags', '--timeout-ms', '2000');
    expect(await stored('flags')).toMatchObject({ start_tls: false, verify_certificate: true, nested_groups: false, connect_timeout_ms: 1500, timeout_ms: 2000 });
    expectRefused(await node.cli('backend', 'set-ldap', 'flags', '--connect-timeout-ms', '50'), /connect_timeout_ms: Too small/);
    expectRefused(await node.cli('backend', 'set-ldap', 'flags', '--connect-timeout-ms', 'soon'), /'--connect-timeout-ms <n>' argument 'soon' is invalid/);
  });
});

describe('the admin UI certificate: made at init, its expiry shown and warned about', () => {
  let node: TestNode;
  let init = '';

  beforeAll(async () => {
    node = await TestNode.create('cli-admin-cert', { init: false });
    init = await node.cliOk('init');
  });

  it('init makes the self-signed certificate and prints its fingerprint', async () => {
    expect(existsSync(join(node.dir, 'data', 'admin', 'tls.crt'))).toBe(true);
    expect(existsSync(join(node.dir, 'data', 'admin', 'tls.key'))).toBe(true);
    expect(init).toMatch(/admin UI certificate: self-signed for DNS:[^,]+, DNS:localhost, IP Address:127\.0\.0\.1/);
    expect(init).toMatch(/SHA-256 fingerprint ([0-9A-F]{2}:){31}[0-9A-F]{2}/);
    const status = JSON.parse((await node.cli('status', '--json')).stdout) as { admin_certificate: { subject: string; days_left: number; warning: string | null } };
    expect(status.admin_certificate).toMatchObject({ subject: expect.stringContaining('O=otpgate admin UI'), warning: null });
    expect(status.admin_certificate.days_left).toBeGreaterThan(800);
    expect((await node.cli('status')).stdout).toMatch(/admin UI certificate: CN=.*, O=otpgate admin UI, valid until \S+ \(\d+ days\)\n(?!WARNING)/);
  });

  it('a certificate with less than 30 days left is installed with a warning, which status repeats', async () => {
    const { cert, key } = certificate(join(node.dir, 'short'), 'short', opensslDate(-1), opensslDate(10));
    const r = await node.cli('admin', 'set-certificate', '--cert', cert, '--key', key);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/valid until \S+ \((9|10) days\)/);
    expect(r.stderr).toMatch(/WARNING: the admin UI certificate expires in (9|10) days/);
    const status = JSON.parse((await node.cli('status', '--json')).stdout) as { admin_certificate: { subject: string; warning: string | null } };
    expect(status.admin_certificate).toMatchObject({ subject: 'CN=short.example.test', warning: expect.stringMatching(/expires in (9|10) days/) });
    expect((await node.cli('status')).stdout).toMatch(/admin UI certificate: CN=short\.example\.test, .*\nWARNING: the admin UI certificate expires in/);
  });

  it('a certificate with time left installs without a warning; an expired one is refused', async () => {
    const long = certificate(join(node.dir, 'long'), 'long', opensslDate(-1), opensslDate(90));
    const ok = await node.cli('admin', 'set-certificate', '--cert', long.cert, '--key', long.key);
    expect(ok.code).toBe(0);
    expect(ok.stderr).not.toContain('WARNING');
    const expired = certificate(join(node.dir, 'expired'), 'expired', opensslDate(-60), opensslDate(-1));
    expectRefused(await node.cli('admin', 'set-certificate', '--cert', expired.cert, '--key', expired.key), /otpgate: certificate: the certificate expired on/);
    const status = JSON.parse((await node.cli('status', '--json')).stdout) as { admin_certificate: { subject: string } };
    expect(status.admin_certificate.subject).toBe('CN=long.example.test');
  });
});
