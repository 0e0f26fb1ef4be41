import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { TestNode } from './helpers/test-node.js';
import { httpsSend } from './helpers/https.js';
import { accessibilityProblems, decodeQr, launchBrowser, newContext, screenshots, text } from './helpers/browser.js';
import { papRequest, radclient } from './helpers/radclient.js';
import { awaitFreshStep, secretFromUri, totpCode } from './helpers/otp.js';
import { PortalVisitor } from './helpers/portal.js';

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
  let adderSecret: string;
  let racerSecret: string;
  const tokensOf = async (user: string) => (JSON.parse(await master.cliOk('token', 'list', user, '--json')) as unknown[]).length;

  beforeAll(async () => {
    master = await TestNode.createMaster('enroll-master', { cluster: '' });
    await master.cliOk('settings', 'set', 'auth.initial_login', '{"enabled": true, "days": 7, "max_logins": 3}');
    await master.addClient('nas', '127.0.0.1', SECRET);
    await master.cliInput('newbie-password', 'user', 'add', 'newbie', '--password-stdin');
    await master.cliInput('late-password', 'user', 'add', 'latecomer', '--password-stdin');
    // an admin deadline in the past: the allowance is over for this user
    await master.cliOk('user', 'set', 'latecomer', '--initial-login-until', '2020-01-01');
    await master.addUserWithToken('veteran', 'veteran-password');
    for (const name of ['twotabs', 'twotabs2']) await master.cliInput(`${name}-password`, 'user', 'add', name, '--password-stdin');
    adderSecret = await master.addUserWithToken('adder', 'adder-password');
    racerSecret = await master.addUserWithToken('racer', 'racer-password');
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

  it('answers every refusal before a sign-in alike: a right password learns no more than a wrong one', async () => {
    const visitor = new PortalVisitor(master.enrollUrl);
    // the form fields' ids carry a counter of fields rendered by the process, different on every page
    const page = (answer: { status: number; text: string }, name: string) => ({
      status: answer.status,
      text: answer.text.replace(/((?:id|for|aria-describedby)="f-[\w-]+?-)\d+/g, '$1N').replaceAll(name, 'NAME'),
    });
    // a user who has a token, and one whose time to enrol has passed: the right password and a wrong one
    for (const [user, password] of [['veteran', 'veteran-password'], ['latecomer', 'late-password']] as const) {
      const right = page(await visitor.signIn(user, password), user);
      const wrong = page(await visitor.signIn(user, 'wrong-password'), user);
      expect(right.status, user).toBe(401);
      expect(right, user).toEqual(wrong);
      expect(right.text).toContain('Wrong user name, password or code');
    }
    // a name nobody has: the same page, but for the name typed in
    const nobody = page(await visitor.signIn('nobody-here', 'some-password'), 'nobody-here');
    expect(nobody).toEqual(page(await visitor.signIn('veteran', 'some-password'), 'veteran'));
    // the real reasons are in the node's log and audit record, for the admin
    const reasons = master.logs().filter((l) => l.action === 'enroll.sign-in-failed').map((l) => l.reason);
    expect(reasons).toEqual(expect.arrayContaining(['has-token', 'allowance-over', 'bad-password', 'unknown-user']));
    const phone = await (await newContext(browser, 'phone')).newPage();
    await portalSignIn(phone, master.enrollUrl, 'veteran', 'veteran-password');
    expect(await text(phone.getByRole('alert'))).toContain('Wrong user name, password or code');
    expect(await accessibilityProblems(phone)).toEqual([]);
    await screenshots(phone, 'enroll-sign-in');
  });

  it('adds no token from a stale session: once one session added the first token, the other one is refused', async () => {
    const [first, second] = [new PortalVisitor(master.enrollUrl), new PortalVisitor(master.enrollUrl)];
    expect((await first.signIn('twotabs', 'twotabs-password')).status).toBe(303);
    expect((await second.signIn('twotabs', 'twotabs-password')).status).toBe(303);
    const [a, b] = [await first.enrolment(), await second.enrolment()];
    await awaitFreshStep();
    expect((await second.confirm(b.csrf, totpCode(b.secret))).text).toContain('Your token is active');
    const stale = await first.confirm(a.csrf, totpCode(a.secret));
    expect(stale.status).toBe(409);
    expect(stale.text).toContain('Sign in again');
    expect(await tokensOf('twotabs')).toBe(1);
  });

  describe('with additional tokens allowed', () => {
    beforeAll(async () => {
      await master.configure('settings', 'set', 'enrollment.allow_additional_tokens', 'true');
    });
    afterAll(async () => {
      await master.configure('settings', 'set', 'enrollment.allow_additional_tokens', 'false');
    });

    it('still refuses the stale session: it signed in for a first token, without the code of the one added since', async () => {
      const [first, second] = [new PortalVisitor(master.enrollUrl), new PortalVisitor(master.enrollUrl)];
      expect((await first.signIn('twotabs2', 'twotabs2-password')).status).toBe(303);
      expect((await second.signIn('twotabs2', 'twotabs2-password')).status).toBe(303);
      const [a, b] = [await first.enrolment(), await second.enrolment()];
      await awaitFreshStep();
      expect((await second.confirm(b.csrf, totpCode(b.secret))).text).toContain('Your token is active');
      expect((await first.confirm(a.csrf, totpCode(a.secret))).status).toBe(409);
      expect(await tokensOf('twotabs2')).toBe(1);
    });

    it('refuses an additional token when the admin turned additional tokens off after the sign-in', async () => {
      const visitor = new PortalVisitor(master.enrollUrl);
      await awaitFreshStep();
      expect((await visitor.signIn('adder', 'adder-password', totpCode(adderSecret))).status).toBe(303);
      const { secret, csrf } = await visitor.enrolment();
      await master.configure('settings', 'set', 'enrollment.allow_additional_tokens', 'false');
      try {
        await awaitFreshStep();
        expect((await visitor.confirm(csrf, totpCode(secret))).status).toBe(409);
        expect(await tokensOf('adder')).toBe(1);
      } finally {
        await master.configure('settings', 'set', 'enrollment.allow_additional_tokens', 'true');
      }
    });

    it('signs in once with one code, however many sign-ins use it at the same moment', async () => {
      const visitors = [new PortalVisitor(master.enrollUrl), new PortalVisitor(master.enrollUrl), new PortalVisitor(master.enrollUrl)];
      for (const v of visitors) await v.open();
      await awaitFreshStep();
      const code = totpCode(racerSecret);
      const answers = await Promise.all(visitors.map((v) => v.signIn('racer', 'racer-password', code)));
      expect(answers.map((a) => a.status).sort()).toEqual([303, 401, 401]);
    });
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
