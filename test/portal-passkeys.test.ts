import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { TestNode } from './helpers/test-node.js';
import { accessibilityProblems, newContext, screenshots, text } from './helpers/browser.js';
import { USB_KEY, addAuthenticator, launchPortalBrowser, servePortal, signInWithCode } from './helpers/portal-browser.js';
import { papRequest, radclient } from './helpers/radclient.js';
import { awaitFreshStep, totpCode } from './helpers/otp.js';
import { AdminSession } from './helpers/admin-session.js';

const SECRET = 'testing123';
/** The portal's host name (helpers/portal-browser.ts). */
const HOST = 'vpn.otpgate.test';
const ADMIN_PW = 'Admin-Password-7q';

describe('user portal: passkeys and one-time VPN credentials (chromium, virtual authenticator)', () => {
  let master: TestNode;
  let browser: Browser;
  let base: string;
  let aliceSecret: string;
  let bobSecret: string;
  let carolSecret: string;
  let daveSecret: string;

  beforeAll(async () => {
    master = await TestNode.createMaster('passkeys-master');
    await master.addClient('nas', '127.0.0.1', SECRET);
    aliceSecret = await master.addUserWithToken('alice', 'alice-password');
    bobSecret = await master.addUserWithToken('bob', 'bob-password');
    // the passkey sign-in mode: carol by name the second-factor way only, dave's group (kiosk) passwordless only
    await master.cliOk('group', 'add', 'kiosk');
    carolSecret = await master.addUserWithToken('carol', 'carol-password');
    daveSecret = await master.addUserWithToken('dave', 'dave-password', '--group', 'kiosk');
    await master.cliOk('settings', 'set', 'passkeys.second_factor.users', '["carol"]');
    await master.cliOk('settings', 'set', 'passkeys.passwordless.groups', '["kiosk"]');
    base = await servePortal(master, HOST);
    await master.cliInput(ADMIN_PW, 'admin', 'set-password', '--password-stdin');
    await master.start();
    browser = await launchPortalBrowser(HOST);
  }, 180_000);
  afterAll(async () => {
    await browser?.close();
    await master?.stop();
  });


  it('a stolen password alone cannot register a passkey: no session without the code, and no registration without a session', async () => {
    const context = await newContext(browser);
    const page = await context.newPage();
    await signInWithCode(page, base, 'alice', 'alice-password', '000000');
    expect(await text(page.locator('.problems, [role="alert"]'))).toContain('Wrong user name, password or code');
    const answer = await page.evaluate(async () => {
      const r = await fetch('/account/passkeys/options', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      return r.status;
    });
    expect(answer).toBe(401);
    expect(JSON.parse(await master.cliOk('passkey', 'list', 'alice', '--json'))).toEqual([]);
    await context.close();
  });

  it('registers a passkey after password + code, signs in with it alone, and hands out a VPN password that RADIUS accepts once', async () => {
    const context = await newContext(browser);
    const page = await context.newPage();
    const authenticator = await addAuthenticator(context, page);
    await awaitFreshStep();
    await signInWithCode(page, base, 'alice', 'alice-password', totpCode(aliceSecret));
    expect(await text(page.getByRole('heading', { level: 1 }))).toBe('Signed in as alice');
    // a password + code session may register passkeys, but gets no VPN password
    expect(await page.getByRole('button', { name: 'Get a one-time VPN password' }).count()).toBe(0);
    await page.getByLabel('Name of the new passkey').fill('test laptop');
    await page.getByRole('button', { name: 'Add a passkey' }).click();
    await page.getByRole('cell', { name: 'test laptop' }).waitFor();
    expect(await accessibilityProblems(page)).toEqual([]);
    await screenshots(page, 'portal-account');
    const keys = JSON.parse(await master.cliOk('passkey', 'list', 'alice', '--json')) as Array<{ id: string; passwordless: boolean; counter: number }>;
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatchObject({ passwordless: true });

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
    await page.getByRole('heading', { name: 'Signed in as alice' }).waitFor();
    // the counter the authenticator signed is stored
    const [count] = await authenticator.signCount();
    expect((JSON.parse(await master.cliOk('passkey', 'list', 'alice', '--json')) as Array<{ counter: number }>)[0]!.counter).toBe(count);

    await page.getByRole('button', { name: 'Get a one-time VPN password' }).click();
    expect(await text(page.getByRole('heading', { level: 1 }))).toBe('Your VPN login');
    expect(await accessibilityProblems(page)).toEqual([]);
    await screenshots(page, 'portal-vpn-credential');
    const password = await text(page.locator('#vpn-password'));
    master.noteSecret(password);
    expect(await text(page.locator('#vpn-username'))).toBe('alice');
    const mark = await master.mark();
    expect((await radclient(master.target, SECRET, papRequest('alice', password))).code).toBe('Access-Accept');
    expect(await master.authAfter(mark, 'alice')).toMatchObject({ policy: 'vpn-credential', backend: 'passkey' });
    expect((await radclient(master.target, SECRET, papRequest('alice', password))).code).toBe('Access-Reject');

    // an admin requires the passkey for alice: her password and code no longer reach the VPN; a passkey's VPN password does
    await master.cliOk('settings', 'set', 'passkeys.required', '{"users":["alice"]}');
    // every RADIUS thread reloads the settings within its 50 ms check; margin for a busy machine
    await new Promise((resolve) => setTimeout(resolve, 1000));
    await awaitFreshStep();
    const required = await master.mark();
    expect((await radclient(master.target, SECRET, papRequest('alice', `alice-password${totpCode(aliceSecret)}`))).code).toBe('Access-Reject');
    expect(await master.authAfter(required, 'alice')).toMatchObject({ result: 'reject', reason: 'passkey-required' });
    await page.goto(`${base}/account`);
    await page.getByRole('button', { name: 'Get a one-time VPN password' }).click();
    const again = await text(page.locator('#vpn-password'));
    master.noteSecret(again);
    expect((await radclient(master.target, SECRET, papRequest('alice', again))).code).toBe('Access-Accept');
    await master.cliOk('settings', 'set', 'passkeys.required', '{"users":[]}');

    // a clone of the authenticator, its counter behind the stored one, is refused and logged
    await page.goto(`${base}/account`);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await authenticator.rewind();
    await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
    await page.getByText('Not signed in: this passkey cannot sign in here').waitFor();
    await master.waitForLog((l) => l.event === 'passkey-counter-backwards' && l.user === 'alice');

    // an admin removes the passkey (lost laptop) on the user's page in the admin UI: it signs in no more
    await page.reload();
    const admin = await AdminSession.signIn(master.adminUrl, 'admin', ADMIN_PW);
    expect((await admin.get('/users/alice')).body).toContain('test laptop');
    const removed = await admin.post('/users/alice/passkeys/remove', { _csrf: await admin.csrf('/users/alice'), id: keys[0]!.id });
    expect(removed).toMatchObject({ status: 303, location: '/users/alice' });
    expect((await admin.get('/users/alice')).body).toContain('Passkeys and security keys: none.');
    expect(JSON.parse(await master.cliOk('passkey', 'list', 'alice', '--json'))).toEqual([]);
    await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
    await page.getByText('Not signed in: this passkey cannot sign in here').waitFor();
    expect(await page.getByRole('heading', { name: 'Signed in as alice' }).count()).toBe(0);
    await context.close();
  });

  it('a security key without resident keys works as the second factor after the password, and never alone', async () => {
    const context = await newContext(browser);
    const page = await context.newPage();
    await addAuthenticator(context, page, USB_KEY);
    await awaitFreshStep();
    await signInWithCode(page, base, 'bob', 'bob-password', totpCode(bobSecret));
    await page.getByLabel('Name of the new passkey').fill('usb key');
    await page.getByRole('button', { name: 'Add a passkey' }).click();
    await page.getByRole('cell', { name: 'usb key' }).waitFor();
    expect(JSON.parse(await master.cliOk('passkey', 'list', 'bob', '--json'))).toMatchObject([{ label: 'usb key', passwordless: false }]);
    await page.getByRole('button', { name: 'Sign out' }).click();

    // alone (passwordless) it cannot sign in: it holds no discoverable credential
    await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
    await page.getByText(/^Not signed in/).waitFor();
    // a wrong password gets no challenge for the key
    await page.getByLabel('User name').fill('bob');
    await page.getByLabel('Password').fill('wrong-password');
    await page.getByRole('button', { name: 'Sign in with password and security key' }).click();
    await page.getByText('Not signed in: Wrong user name, password or code').waitFor();
    // the right password, then the key
    await page.getByLabel('Password').fill('bob-password');
    await page.getByRole('button', { name: 'Sign in with password and security key' }).click();
    await page.getByRole('heading', { name: 'Signed in as bob' }).waitFor();
    expect(await page.getByRole('button', { name: 'Get a one-time VPN password' }).count()).toBe(1);
    await context.close();
  });

  it('a user or group set to one passkey sign-in mode is refused the other way', async () => {
    for (const [user, secret, mode] of [
      ['carol', carolSecret, 'second-factor'],
      ['dave', daveSecret, 'passwordless'],
    ] as const) {
      const context = await newContext(browser);
      const page = await context.newPage();
      await addAuthenticator(context, page);
      await awaitFreshStep();
      await signInWithCode(page, base, user, `${user}-password`, totpCode(secret));
      await page.getByLabel('Name of the new passkey').fill('laptop');
      await page.getByRole('button', { name: 'Add a passkey' }).click();
      await page.getByRole('cell', { name: 'laptop' }).waitFor();
      await page.getByRole('button', { name: 'Sign out' }).click();

      const passwordless = async () => page.getByRole('button', { name: 'Sign in with a passkey' }).click();
      const secondFactor = async () => {
        await page.getByLabel('User name').fill(user);
        await page.getByLabel('Password').fill(`${user}-password`);
        await page.getByRole('button', { name: 'Sign in with password and security key' }).click();
      };
      // the way the mode forbids, then the way it asks for
      await (mode === 'second-factor' ? passwordless() : secondFactor());
      await page.getByText(/^Not signed in/).waitFor();
      await master.waitForLog((l) => l.action === 'portal.sign-in-failed' && l.target === user && String(l.reason).includes(`${mode} only`));
      expect(await page.getByRole('heading', { name: `Signed in as ${user}` }).count()).toBe(0);
      await (mode === 'second-factor' ? secondFactor() : passwordless());
      await page.getByRole('heading', { name: `Signed in as ${user}` }).waitFor();
      await context.close();
    }
  });

  it('the sign-in page is accessible at phone width', async () => {
    const context = await newContext(browser, 'phone');
    const page = await context.newPage();
    await page.goto(`${base}/account`);
    await page.getByRole('button', { name: 'Sign in with a passkey' }).waitFor();
    expect(await accessibilityProblems(page)).toEqual([]);
    await screenshots(page, 'portal-sign-in');
    await context.close();
  });
});
