import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { TestNode } from './helpers/test-node.js';
import { httpsSend } from './helpers/https.js';
import { accessibilityProblems, decodeQr, launchBrowser, newContext, screenshots, signIn, text } from './helpers/browser.js';
import { papRequest, radclient } from './helpers/radclient.js';
import { awaitFreshStep, secretFromUri, totpCode } from './helpers/otp.js';
import { eventually } from './helpers/eventually.js';
import { createTestCa } from '../packages/core/test/helpers/tls-certs.js';
import { ADMIN_DN, ADMIN_PASSWORD, GROUPS_DN, PEOPLE_DN, setGroupMembers, startSlapd, type Slapd } from '../packages/core/test/helpers/slapd.js';

const ADMIN_PW = 'Admin-Password-7q';
const SECRET = 'testing123';

/** Every page an admin can open on the master, for the accessibility check and the screenshots. */
const MASTER_PAGES = ['/', '/users', '/users/new', '/hardware', '/groups', '/clients', '/backends', '/settings', '/replicas', '/authlog', '/audit', '/certificate'];
/** One page of each kind of record (the token page is added once a token exists). */
const RECORD_PAGES = ['/users/webuser', '/groups/staff', '/clients/nas', '/backends/corp'];
const HARDWARE_SEED = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';

const post = (url: string, body: string, cookie: string) => httpsSend('POST', url, body, cookie);
const get = (url: string, cookie: string) => httpsSend('GET', url, '', cookie);

describe('admin UI in a real browser (Debian chromium)', () => {
  let master: TestNode;
  let replica: TestNode;
  let slapd: Slapd;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;

  beforeAll(async () => {
    slapd = await startSlapd();
    // a directory admin's group membership is asked again on every request (by default at most every 5 minutes)
    master = await TestNode.createMaster('ui-master', { admin: '  directory_recheck_minutes: 0\n' });
    await master.cliInput(ADMIN_PW, 'admin', 'set-password', '--password-stdin');
    await master.cliInput(ADMIN_PASSWORD, 'backend', 'add-ldap', 'corp', '--server', slapd.url, '--bind-dn', ADMIN_DN, '--bind-password-stdin', '--base-dn', PEOPLE_DN, '--group-map', `cn=vpn,${GROUPS_DN}=vpn`, '--group-map', `cn=admins,${GROUPS_DN}=ops-admins`);
    await master.addClient('nas', '127.0.0.1', SECRET);
    await master.cliOk('group', 'add', 'staff', '--description', 'office staff');
    await master.cliOk('hardware', 'add', 'HW-UI-1', '--secret', HARDWARE_SEED, '--manufacturer', 'Feitian');
    await master.start();
    replica = await TestNode.createReplica('ui-replica', master);
    await replica.start();
    browser = await launchBrowser();
    context = await newContext(browser);
    page = await context.newPage();
  });
  afterAll(async () => {
    await browser?.close();
    await Promise.all([master?.stop(), replica?.stop(), slapd?.stop()]);
  });

  it('locks the sign-in after repeated wrong passwords, without saying whether the account exists', async () => {
    const other = await (await newContext(browser)).newPage();
    await signIn(other, master.adminUrl, 'admin', 'wrong-1');
    expect(await text(other.getByRole('alert'))).toContain('Wrong user name, password or code');
    for (let i = 2; i <= 5; i++) await signIn(other, master.adminUrl, 'admin', `wrong-${i}`);
    await signIn(other, master.adminUrl, 'admin', ADMIN_PW);
    expect(await text(other.getByRole('alert'))).toContain('locked');
    await other.context().close();
    // the lock is per account: unlock it by the admin's own hand (the test needs the account)
    await master.stop();
    await master.start();
  });

  it('signs in with secure cookies and strict headers', async () => {
    const response = await page.goto(`${master.adminUrl}/login`);
    const headers = response!.headers();
    expect(headers['content-security-policy']).toContain("script-src 'self'");
    expect(headers['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(headers['strict-transport-security']).toContain('max-age=');
    await signIn(page, master.adminUrl, 'admin', ADMIN_PW);
    expect(await text(page.getByRole('heading', { level: 1 }))).toBe('Dashboard');
    const session = (await context.cookies()).find((c) => c.name === '__Host-otpgate-session')!;
    expect(session).toMatchObject({ httpOnly: true, secure: true, sameSite: 'Strict', path: '/' });
  });

  it('refuses a POST without the CSRF token with 403', async () => {
    const cookie = (await context.cookies()).map((c) => `${c.name}=${c.value}`).join('; ');
    const refused = await post(`${master.adminUrl}/users`, 'username=mallory', cookie);
    expect(refused.status).toBe(403);
    expect(refused.text).toContain('CSRF');
    expect(await master.cli('user', 'show', 'mallory')).toMatchObject({ code: 1 });
  });

  it('creates a user, shows a new token as a QR code once, and radclient accepts password + the code read from it', async () => {
    await page.goto(`${master.adminUrl}/users/new`);
    await page.getByLabel('User name').fill('webuser');
    await page.getByLabel('Local password').fill('web-user-password');
    await page.getByRole('button', { name: 'Add user' }).click();
    expect(await text(page.getByRole('heading', { level: 1 }))).toBe('User webuser');
    await page.getByLabel('Label').fill('test phone');
    await page.getByRole('button', { name: /Add a token/ }).click();
    const uri = await decodeQr(page);
    expect(uri).toMatch(/^otpauth:\/\/totp\/otpgate:webuser\?/);
    expect(await page.locator('#otpauth-uri').textContent()).toBe(uri);
    await screenshots(page, 'new-token');
    const secret = secretFromUri(uri);
    await awaitFreshStep();
    expect((await radclient(master.target, SECRET, papRequest('webuser', `web-user-password${totpCode(secret)}`))).code).toBe('Access-Accept');
    // never shown again: the user page lists the token without its secret
    await page.goto(`${master.adminUrl}/users/webuser`);
    expect(await page.content()).not.toContain(secret);
  });

  it('disables the user: the next login is rejected', async () => {
    await page.goto(`${master.adminUrl}/users/webuser`);
    await page.getByRole('button', { name: 'Disable' }).first().click();
    expect(await text(page.getByRole('status'))).toContain('disabled');
    const secret = await master.addToken('webuser');
    const reply = await radclient(master.target, SECRET, papRequest('webuser', `web-user-password${totpCode(secret)}`));
    expect(reply.code).toBe('Access-Reject');
  });

  it('adds a RADIUS client with a generated secret shown once', async () => {
    await page.goto(`${master.adminUrl}/clients`);
    await page.getByLabel('Name', { exact: true }).fill('vpn-gw');
    await page.getByLabel('IP address or CIDR block').fill('192.0.2.0/24');
    await page.getByRole('button', { name: 'Add client' }).click();
    const secret = (await page.locator('#shared-secret').textContent())!.trim();
    expect(secret.length).toBeGreaterThanOrEqual(20);
    const list = JSON.parse(await master.cliOk('client', 'list', '--json')) as Array<{ name: string; address: string; secret: string }>;
    expect(list.find((c) => c.name === 'vpn-gw')).toMatchObject({ address: '192.0.2.0/24' });
    await page.goto(`${master.adminUrl}/clients`);
    expect(await page.content()).not.toContain(secret);
  });

  it('tests the LDAP connection and shows what slapd answered', async () => {
    await page.goto(`${master.adminUrl}/backends/corp`);
    await page.getByLabel('Look up this user (optional)').fill('alice');
    await page.getByRole('button', { name: 'Test connection' }).click();
    expect(await text(page.getByRole('status'))).toContain('passed');
    expect(await text(page.locator('table'))).toContain('uid=alice');
  });

  it('lists every configured backend on the dashboard, an idle one with a link to test it', async () => {
    await page.goto(`${master.adminUrl}/`);
    const table = page.locator('table', { has: page.locator('caption', { hasText: 'Password checks by backend' }) });
    const corp = table.locator('tbody tr', { hasText: 'corp' });
    expect(await text(corp)).toMatch(/^corp\t0\t0\t0\tno requests in the last hour \(test connection\)$/);
    expect(await corp.getByRole('link', { name: 'test connection' }).getAttribute('href')).toBe('/backends/corp');
  });

  it('saves reply attributes as the CLI reads them, and assigns a hardware token by its serial', async () => {
    await page.goto(`${master.adminUrl}/users/webuser`);
    await page.getByLabel('Reply attributes').fill('Filter-Id="vpn"\nReply-Message=hello');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    expect(await text(page.getByRole('status'))).toContain('saved');
    const shown = JSON.parse(await master.cliOk('user', 'show', 'webuser', '--json')) as { attributes: unknown };
    expect(shown.attributes).toEqual([{ name: 'Filter-Id', value: 'vpn' }, { name: 'Reply-Message', value: 'hello' }]);

    const serial = page.getByLabel('Serial of a hardware token from the inventory');
    await serial.fill('HW-NOPE');
    await page.getByRole('button', { name: 'Assign' }).click();
    expect(await text(page.getByRole('alert'))).toContain('hardware token "HW-NOPE" does not exist');
    expect(await page.locator('#spare-hardware option').evaluateAll((o) => o.map((x) => (x as HTMLOptionElement).value))).toEqual(['HW-UI-1']);
    await serial.fill('HW-UI-1');
    await page.getByRole('button', { name: 'Assign' }).click();
    expect(await text(page.getByRole('status'))).toContain('hardware token assigned');
    const hardware = JSON.parse(await master.cliOk('hardware', 'list', '--json')) as Array<{ serial: string; assigned_to: string | null }>;
    expect(hardware).toMatchObject([{ serial: 'HW-UI-1', assigned_to: 'webuser' }]);
  });

  it('sets the enrollment portal\'s existing-token policy on the settings page', async () => {
    await page.goto(`${master.adminUrl}/settings`);
    await page.getByLabel('allow additional tokens').check();
    await page.getByRole('button', { name: 'Save settings' }).click();
    expect(await text(page.getByRole('status'))).toContain('Settings saved');
    const settings = JSON.parse(await master.cliOk('settings', 'show')) as { enrollment: { allow_additional_tokens: boolean } };
    expect(settings.enrollment.allow_additional_tokens).toBe(true);
    await expect(page.getByLabel('allow additional tokens').isChecked()).resolves.toBe(true);
  });

  it('resets a token\'s replay state from its page, on the master and the replica, audited', async () => {
    const secret = await master.addUserWithToken('stepper', 'stepper-password');
    const { id } = (JSON.parse(await master.cliOk('token', 'list', 'stepper', '--json')) as Array<{ id: number }>)[0]!;
    // a resync with two codes well ahead (a clock far off, say): the token's used step and drift move ahead
    await awaitFreshStep();
    await master.cliOk('token', 'resync', String(id), totpCode(secret, 5), totpCode(secret, 6));
    const ahead = Math.floor(Date.now() / 30_000) + 6;
    await replica.waitForApplied(await master.headSeq());
    const lastStep = async (node: TestNode) => (JSON.parse(await node.cliOk('token', 'list', 'stepper', '--json')) as Array<{ last_step: number }>)[0]!.last_step;
    expect(await lastStep(replica)).toBe(ahead);
    await page.goto(`${master.adminUrl}/tokens/${id}`);
    expect(await text(page.locator('main'))).toContain(`Last used time step: ${ahead}`);
    page.once('dialog', (dialog) => void dialog.accept());
    await page.getByRole('button', { name: 'Reset replay state' }).click();
    expect(await text(page.getByRole('status'))).toContain(`Token ${id}: replay state reset on every node`);
    expect(await lastStep(master)).toBe(-1);
    await replica.waitForApplied(await master.headSeq());
    expect(await lastStep(replica)).toBe(-1);
    expect((await radclient(replica.target, SECRET, papRequest('stepper', `stepper-password${totpCode(secret, 1)}`))).code).toBe('Access-Accept');
    await page.goto(`${master.adminUrl}/audit`);
    expect(await text(page.locator('main'))).toContain('token.reset-replay');
  });

  it('charts the last day\'s requests per 5 minutes on the dashboard: the master\'s at once, the replica\'s once it reports them', async () => {
    // the replica accepted stepper in the test before; a wrong code there too
    expect((await radclient(replica.target, SECRET, papRequest('stepper', 'stepper-password000000'))).code).toBe('Access-Reject');
    const refused: string[] = [];
    page.on('console', (m) => void (m.type() === 'error' && refused.push(m.text())));
    const summary = (id: string) => page.locator(`#${id}-summary`).textContent();
    // the replica counts its log every 10 seconds and reports with its used steps
    await eventually(
      'the replica\'s requests on the master\'s dashboard',
      async () => {
        await page.goto(`${master.adminUrl}/`);
        return (await page.locator('#chart-replica-0-summary').count()) === 1 && (await summary('chart-replica-0'))!.includes('1 rejected');
      },
      30_000,
      500,
    );
    // each an image named for screen readers, with its numbers in words: the master's own (webuser accepted, then
    // refused as disabled), the replica's (stepper accepted, then a wrong code), and both together
    expect(await page.getByRole('img', { name: 'Requests per 5 minutes, ui-replica (replica)' }).count()).toBe(1);
    expect(await page.getByRole('img', { name: 'Requests per 5 minutes, ui-master (master)' }).count()).toBe(1);
    expect(await summary('chart-replica-0')).toMatch(/^1 accepted and 1 rejected in the last 24 hours \(bad-code 1\); the busiest 5 minutes from \d\d:\d\d UTC with [12]\.$/);
    expect(await summary('chart-node')).toMatch(/^1 accepted and 1 rejected in the last 24 hours \(other reasons 1\);/);
    expect(await summary('chart-all')).toMatch(/^2 accepted and 2 rejected in the last 24 hours \(bad-code 1, other reasons 1\);/);
    expect(await text(page.locator('.legend'))).toBe('Bars up (scale at the top): accepted. Bars down (scale at the bottom), rejected by reason: bad-code, other reasons.');
    // the same numbers in a table that opens under the chart
    const figure = page.locator('figure', { has: page.locator('figcaption', { hasText: 'ui-replica (replica)' }) });
    await figure.getByText('The numbers behind ui-replica (replica)').click();
    const table = figure.locator('table');
    expect(await text(table.locator('thead tr'))).toBe('From\taccepted\trejected: bad-code\trejected: other reasons\trejected');
    const rows = (await table.locator('tbody tr').allInnerTexts()).map((r) => r.split('\t'));
    const column = (i: number) => rows.reduce((sum, r) => sum + Number(r[i]), 0);
    expect([column(1), column(2), column(3), column(4)]).toEqual([1, 1, 0, 1]);
    expect(await accessibilityProblems(page)).toEqual([]);
    await screenshots(page, 'master-dashboard-charts');
    // drawn without script or inline style: nothing the CSP refused
    expect(refused.filter((m) => m.includes('Content Security Policy'))).toEqual([]);
    page.removeAllListeners('console');
  });

  it('has no serious accessibility problems on any page, and is captured at desktop and phone widths', async () => {
    const tokens = JSON.parse(await master.cliOk('token', 'list', 'webuser', '--json')) as Array<{ id: number }>;
    for (const path of [...MASTER_PAGES, ...RECORD_PAGES, `/tokens/${tokens[0]!.id}`]) {
      await page.goto(`${master.adminUrl}${path}`);
      expect(await accessibilityProblems(page), path).toEqual([]);
      await screenshots(page, `master${path === '/' ? '-dashboard' : path.replace(/\//g, '-')}`);
    }
    const signedOut = await (await newContext(browser)).newPage();
    await signedOut.goto(`${master.adminUrl}/login`);
    expect(await accessibilityProblems(signedOut), '/login').toEqual([]);
    await screenshots(signedOut, 'master-login');
    await signedOut.context().close();
    // 18 pages, each with axe and two full-page screenshots: about a minute on a busy 2-core machine
  }, 180_000);

  it('lets members of the directory admin group sign in with their directory password, and nobody else', async () => {
    // the group first: a directory backend for admins without a group is refused
    await master.configure('settings', 'set', 'admin.directory_group', '"ops-admins"');
    await master.configure('settings', 'set', 'admin.directory_backend', '"corp"');
    const other = await (await newContext(browser)).newPage();
    // bob is in the directory (group vpn) but not in its admins group
    await signIn(other, master.adminUrl, 'bob', 'bob-secret');
    expect(await text(other.getByRole('alert'))).toContain('Wrong user name, password or code');
    await signIn(other, master.adminUrl, 'alice', 'not-alices-password');
    expect(await text(other.getByRole('alert'))).toContain('Wrong user name, password or code');
    await signIn(other, master.adminUrl, 'alice', 'alice-secret');
    expect(await text(other.getByRole('heading', { level: 1 }))).toBe('Dashboard');
    await other.context().close();
  });

  it('asks an admin who has an otpgate token for a current code, and accepts password + code once', async () => {
    await master.cliInput('Sec-Admin-Password-4k', 'admin', 'set-password', 'secadmin', '--password-stdin');
    const secret = await master.addUserWithToken('secadmin', null);
    const other = await (await newContext(browser)).newPage();
    await signIn(other, master.adminUrl, 'secadmin', 'Sec-Admin-Password-4k');
    expect(await text(other.getByRole('alert'))).toContain('needs a one-time code');
    expect(await text(other.getByRole('heading', { level: 1 }))).toBe('Sign in');
    await awaitFreshStep();
    const code = totpCode(secret);
    const wrong = code === '000000' ? '111111' : '000000';
    await other.getByLabel('Password', { exact: true }).fill('Sec-Admin-Password-4k');
    await other.getByLabel('One-time code').fill(wrong);
    await other.getByRole('button', { name: 'Sign in' }).click();
    expect(await text(other.getByRole('alert'))).toContain('Wrong user name, password or code');
    await other.getByLabel('Password', { exact: true }).fill('Sec-Admin-Password-4k');
    await other.getByLabel('One-time code').fill(code);
    await other.getByRole('button', { name: 'Sign in' }).click();
    expect(await text(other.getByRole('heading', { level: 1 }))).toBe('Dashboard');
    await other.context().close();
    // the code is used up: the same password + code does not sign in a second time
    const again = await (await newContext(browser)).newPage();
    await signIn(again, master.adminUrl, 'secadmin', 'Sec-Admin-Password-4k');
    await again.getByLabel('Password', { exact: true }).fill('Sec-Admin-Password-4k');
    await again.getByLabel('One-time code').fill(code);
    await again.getByRole('button', { name: 'Sign in' }).click();
    expect(await text(again.getByRole('alert'))).toContain('Wrong user name, password or code');
    await again.context().close();
  });

  it('installs an uploaded certificate whose key matches, refuses one whose key does not, and audits the replaced one', async () => {
    const ca = createTestCa('otpgate UI test CA');
    try {
      const mine = ca.issue(['DNS:otp.example.test', 'IP:127.0.0.1']);
      const other = ca.issue(['DNS:other.example.test']);
      const upload = async (certificate: string, key: string) => {
        await page.goto(`${master.adminUrl}/certificate`);
        await page.getByLabel('or the certificate file').setInputFiles({ name: 'tls.crt', mimeType: 'application/x-pem-file', buffer: Buffer.from(certificate) });
        await page.getByLabel('or the key file').setInputFiles({ name: 'tls.key', mimeType: 'application/x-pem-file', buffer: Buffer.from(key) });
        await page.getByRole('button', { name: 'Install' }).click();
      };
      await upload(mine.certificate, other.key);
      expect(await text(page.getByRole('alert'))).toContain('the private key does not belong to the certificate');
      await upload(mine.certificate, mine.key);
      expect(await text(page.getByRole('status'))).toContain('installed; restart the node to use it');
      expect(await text(page.locator('table'))).toContain('otp.example.test');
      expect(await text(page.locator('table'))).toContain('otpgate UI test CA');
      await page.goto(`${master.adminUrl}/audit?action=admin.set-certificate`);
      const row = await text(page.locator('tbody tr'));
      expect(row).toContain('otp.example.test'); // after
      expect(row).toContain('"self_signed":true'); // before: the node's own certificate
      expect(await page.content()).not.toContain('PRIVATE KEY');
    } finally {
      ca.dispose();
    }
  });

  it('refuses a sign-in posted without the sign-in page\'s token (CSRF), also with no cookie at all', async () => {
    const forged = await post(`${master.adminUrl}/login`, `username=admin&password=${ADMIN_PW}`, '');
    expect(forged.status).toBe(403);
    expect(forged.text).not.toContain('__Host-otpgate-session');
  });

  it('on a replica: a read-only status page, and a write refused with the master named', async () => {
    const replicaPage = await (await newContext(browser)).newPage();
    await signIn(replicaPage, replica.adminUrl, 'admin', ADMIN_PW);
    expect(await text(replicaPage.getByRole('heading', { level: 1 }))).toBe('Replica status');
    expect(await text(replicaPage.locator('main'))).toContain('read-only replica');
    expect(await text(replicaPage.locator('main'))).toContain(`127.0.0.1:${master.replicationPort}`);
    expect(await accessibilityProblems(replicaPage)).toEqual([]);
    await screenshots(replicaPage, 'replica-status');
    const cookie = (await replicaPage.context().cookies()).map((c) => `${c.name}=${c.value}`).join('; ');
    const csrf = await replicaPage.locator('input[name="_csrf"]').first().getAttribute('value');
    const write = await post(`${replica.adminUrl}/users`, `_csrf=${encodeURIComponent(csrf!)}&username=sneaky`, cookie);
    expect(write.status).toBe(403);
    expect(write.text).toContain('read-only replica');
    expect(write.text).toContain('master');
    // reads too: a replica shows no users, logs, exports or settings, signed in or not
    for (const path of ['/users', '/users/alice', '/audit', '/audit.csv', '/authlog', '/export/users.csv', '/backends/corp', '/config', '/settings']) {
      const read = await get(`${replica.adminUrl}${path}`, cookie);
      expect(read.status, path).toBe(403);
      expect(read.text, path).toContain('read-only replica');
      expect((await get(`${replica.adminUrl}${path}`, '')).status, `${path} without a session`).toBe(404);
    }
    expect((await get(`${replica.adminUrl}/assets/style.css`, '')).status).toBe(200);
    await replicaPage.context().close();
  });

  it('ends an admin\'s sessions, on the master and on a replica, when the CLI sets their password or removes the account', async () => {
    const heading = (p: Page) => text(p.getByRole('heading', { level: 1 }));
    await master.cliInput('Ops-Password-1x', 'admin', 'set-password', 'ops', '--password-stdin');
    await replica.waitForApplied(await master.headSeq());
    const onMaster = await (await newContext(browser)).newPage();
    const onReplica = await (await newContext(browser)).newPage();
    await signIn(onMaster, master.adminUrl, 'ops', 'Ops-Password-1x');
    expect(await heading(onMaster)).toBe('Dashboard');
    await signIn(onReplica, replica.adminUrl, 'ops', 'Ops-Password-1x');
    expect(await heading(onReplica)).toBe('Replica status');

    // another process sets the password: the next request of each session finds it signed out
    await master.cliInput('Ops-Password-2y', 'admin', 'set-password', 'ops', '--password-stdin');
    await onMaster.goto(`${master.adminUrl}/users`);
    expect(await heading(onMaster)).toBe('Sign in');
    await replica.waitForApplied(await master.headSeq());
    await onReplica.goto(`${replica.adminUrl}/`);
    expect(await heading(onReplica)).toBe('Sign in');

    await signIn(onMaster, master.adminUrl, 'ops', 'Ops-Password-2y');
    expect(await heading(onMaster)).toBe('Dashboard');
    expect(await master.cliOk('admin', 'remove', 'ops')).toContain('admin ops removed');
    await onMaster.goto(`${master.adminUrl}/`);
    expect(await heading(onMaster)).toBe('Sign in');
    await Promise.all([onMaster.context().close(), onReplica.context().close()]);

    await page.goto(`${master.adminUrl}/audit?action=admin.session-ended`);
    expect(await text(page.locator('tbody'))).toContain('the account was removed or its password set');
  });

  it('ends a directory admin\'s session once the directory no longer has them in the admin group', async () => {
    const heading = (p: Page) => text(p.getByRole('heading', { level: 1 }));
    const alice = await (await newContext(browser)).newPage();
    await signIn(alice, master.adminUrl, 'alice', 'alice-secret');
    expect(await heading(alice)).toBe('Dashboard');
    // asked again, still in the group
    await alice.goto(`${master.adminUrl}/users`);
    expect(await heading(alice)).toBe('Users');
    await setGroupMembers(slapd, 'admins', ['carol']);
    await alice.goto(`${master.adminUrl}/users`);
    expect(await heading(alice)).toBe('Sign in');
    await alice.context().close();
  });
});
