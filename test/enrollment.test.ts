import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { TestNode } from './helpers/test-node.js';
import { httpsSend } from './helpers/https.js';
import { accessibilityProblems, decodeQr, launchBrowser, newContext, screenshots, text } from './helpers/browser.js';
import { papRequest, radclient } from './helpers/radclient.js';
import { awaitFreshStep, secretFromUri, totpCode } from './helpers/otp.js';

const SECRET = 'testing123';
const PORTAL = 'enrollment:\n  enabled: true\n  listen: ["127.0.0.1:0"]\n';

async function portalSignIn(page: Page, base: string, user: string, password: string, code = ''): Promise<void> {
  await page.goto(`${base}/`);
  await page.getByLabel('User name').fill(user);
  await page.getByLabel('Password').fill(password);
  if (code) await page.getByLabel('Current code').fill(code);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

describe('self-service enrollment portal (phone-sized chromium)', () => {
  let master: TestNode;
  let replica: TestNode;
  let browser: Browser;

  beforeAll(async () => {
    master = await TestNode.createMaster('enroll-master', { cluster: '' });
    await master.cliOk('settings', 'set', 'auth.initial_login', '{"enabled": true, "days": 7, "max_logins": 3}');
    await master.addClient('nas', '127.0.0.1', SECRET);
    await master.cliInput('newbie-password', 'user', 'add', 'newbie', '--password-stdin');
    await master.cliInput('late-password', 'user', 'add', 'latecomer', '--password-stdin');
    // an admin deadline in the past: the allowance is over for this user
    await master.cliOk('user', 'set', 'latecomer', '--initial-login-until', '2020-01-01');
    await master.addUserWithToken('veteran', 'veteran-password');
    // the portal is switched on in the config file
    const { appendFileSync } = await import('node:fs');
    appendFileSync(master.configPath, PORTAL);
    await master.start();
    replica = await TestNode.createReplica('enroll-replica', master, undefined, {});
    appendFileSync(replica.configPath, PORTAL);
    await replica.start();
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await Promise.all([master?.stop(), replica?.stop()]);
  });

  it('signs a new user in, shows the QR once, activates the token on a confirmed code; radclient then accepts password+code', async () => {
    const page = await (await newContext(browser, 'phone')).newPage();
    await portalSignIn(page, master.enrollUrl, 'newbie', 'newbie-password');
    expect(await text(page.getByRole('heading', { level: 1 }))).toBe('Scan this code');
    expect(await accessibilityProblems(page)).toEqual([]);
    await screenshots(page, 'enroll-scan');
    const uri = await decodeQr(page);
    const secret = secretFromUri(uri);
    // not active until confirmed
    expect((JSON.parse(await master.cliOk('token', 'list', 'newbie', '--json')) as unknown[]).length).toBe(0);
    await awaitFreshStep();
    await page.getByLabel('Code from the app').fill(totpCode(secret));
    await page.getByRole('button', { name: 'Confirm' }).click();
    expect(await text(page.getByRole('status'))).toContain('Your token is active');
    await screenshots(page, 'enroll-done');
    // the confirmation code is used up; the next one logs in
    expect((await radclient(master.target, SECRET, papRequest('newbie', `newbie-password${totpCode(secret)}`))).code).toBe('Access-Reject');
    expect((await radclient(master.target, SECRET, papRequest('newbie', `newbie-password${totpCode(secret, 1)}`))).code).toBe('Access-Accept');
    const audit = await master.cliOk('authlog', '--user', 'newbie', '--json');
    expect(audit).toContain('accept');
  });

  it('refuses a user whose initial-login allowance is over, and a user who already has a token', async () => {
    const page = await (await newContext(browser, 'phone')).newPage();
    await portalSignIn(page, master.enrollUrl, 'latecomer', 'late-password');
    expect(await text(page.getByRole('alert'))).toContain('time to set one up yourself has passed');
    await portalSignIn(page, master.enrollUrl, 'veteran', 'veteran-password');
    expect(await text(page.getByRole('alert'))).toContain('already have a token');
    await portalSignIn(page, master.enrollUrl, 'newbie', 'wrong-password');
    expect(await text(page.getByRole('alert'))).toContain('Wrong user name, password or code');
    expect(await accessibilityProblems(page)).toEqual([]);
    await screenshots(page, 'enroll-sign-in');
  });

  it('refuses a sign-in posted without the token of a sign-in page this browser loaded (CSRF)', async () => {
    const forged = await httpsSend('POST', `${master.enrollUrl}/sign-in`, 'username=newbie&password=newbie-password');
    expect(forged.status).toBe(403);
    expect(forged.text).toContain('not sent from this site');
    const mismatched = await httpsSend('POST', `${master.enrollUrl}/sign-in`, '_signin=forged&username=newbie&password=newbie-password', '__Host-otpgate-enroll-signin=other');
    expect(mismatched.status).toBe(403);
  });

  it('does not listen on a replica', async () => {
    expect(replica.enrollUrl).toBe('');
    await replica.waitForLog((l) => String(l.msg).includes('enrollment.enabled is ignored on a replica'));
  });
});
