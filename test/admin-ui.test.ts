import { request as httpsRequest } from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { TestNode } from './helpers/test-node.js';
import { accessibilityProblems, decodeQr, launchBrowser, newContext, screenshots, signIn, text } from './helpers/browser.js';
import { papRequest, radclient } from './helpers/radclient.js';
import { awaitFreshStep, secretFromUri, totpCode } from './helpers/otp.js';
import { ADMIN_DN, ADMIN_PASSWORD, GROUPS_DN, PEOPLE_DN, startSlapd, type Slapd } from '../packages/core/test/helpers/slapd.js';

const ADMIN_PW = 'Admin-Password-7q';
const SECRET = 'testing123';

/** Every page an admin can open on the master, for the accessibility check and the screenshots. */
const MASTER_PAGES = ['/', '/users', '/users/new', '/hardware', '/groups', '/clients', '/backends', '/settings', '/replicas', '/authlog', '/audit', '/certificate'];

/** A raw HTTPS POST (no browser, so no CSRF token unless given). */
function post(url: string, body: string, cookie: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { method: 'POST', rejectUnauthorized: false, headers: { 'content-type': 'application/x-www-form-urlencoded', cookie } }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('admin UI in a real browser (Debian chromium)', () => {
  let master: TestNode;
  let replica: TestNode;
  let slapd: Slapd;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;

  beforeAll(async () => {
    slapd = await startSlapd();
    master = await TestNode.createMaster('ui-master');
    await master.cliInput(ADMIN_PW, 'admin', 'set-password', '--password-stdin');
    await master.cliInput(ADMIN_PASSWORD, 'backend', 'add-ldap', 'corp', '--server', slapd.url, '--bind-dn', ADMIN_DN, '--bind-password-stdin', '--base-dn', PEOPLE_DN, '--group-map', `cn=vpn,${GROUPS_DN}=vpn`);
    await master.addClient('nas', '127.0.0.1', SECRET);
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

  it('has no serious accessibility problems on any page, and is captured at desktop and phone widths', async () => {
    for (const path of MASTER_PAGES) {
      await page.goto(`${master.adminUrl}${path}`);
      expect(await accessibilityProblems(page), path).toEqual([]);
      await screenshots(page, `master${path === '/' ? '-dashboard' : path.replace(/\//g, '-')}`);
    }
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
    await replicaPage.context().close();
  });
});
