/**
 * VPN profiles end to end: an admin sets up a client's profile in the admin UI; a user signs in to the portal with a
 * passkey (chromium, CDP virtual authenticator), gets a one-time credential for that connection, downloads the
 * .mobileconfig, and RADIUS accepts the credential it carries, once; the spent credential's downloads are refused.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { parse } from 'plist';
import { TestNode } from './helpers/test-node.js';
import { accessibilityProblems, newContext, screenshots, signIn, text } from './helpers/browser.js';
import { papRequest, radclient } from './helpers/radclient.js';
import { awaitFreshStep, totpCode } from './helpers/otp.js';
import { addAuthenticator, launchPortalBrowser, servePortal, signInWithCode } from './helpers/portal-browser.js';

const SECRET = 'testing123';
const ADMIN_PW = 'Admin-Password-7q';
/** WebAuthn refuses IP addresses: the portal is reached by this name, which chromium maps to 127.0.0.1. */
const HOST = 'vpn-profiles.otpgate.test';
/** A connection name with markup and quotes in it: it must reach the device as text. */
const CONNECTION = `Office <VPN> & "HQ" 'east'`;

type Dict = Record<string, unknown>;

describe('VPN profiles: admin UI set-up, portal download, RADIUS accepts the credential inside (chromium)', () => {
  let master: TestNode;
  let browser: Browser;
  let base: string;
  let aliceSecret: string;

  beforeAll(async () => {
    master = await TestNode.createMaster('vpn-profiles-master');
    await master.cliInput(ADMIN_PW, 'admin', 'set-password', '--password-stdin');
    await master.addClient('nas', '127.0.0.1', SECRET);
    aliceSecret = await master.addUserWithToken('alice', 'alice-password');
    base = await servePortal(master, HOST);
    await master.start();
    browser = await launchPortalBrowser(HOST);
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await master?.stop();
  });

  it('an admin sets up the profile of a client', async () => {
    const page = await (await newContext(browser)).newPage();
    await signIn(page, master.adminUrl, 'admin', ADMIN_PW);
    await page.goto(`${master.adminUrl}/clients/nas`);
    await page.getByRole('link', { name: 'VPN profile' }).click();
    expect(await text(page.getByRole('heading', { level: 1 }))).toBe('VPN profile of nas');
    expect(await accessibilityProblems(page)).toEqual([]);
    await page.getByLabel('Connection name').fill(CONNECTION);
    await page.getByLabel('Server address').fill('vpn.example.test');
    await page.getByLabel('Remote identifier').fill('gw.example.test');
    await page.getByRole('button', { name: 'Save VPN profile' }).click();
    await page.getByText('VPN profile of nas saved.').waitFor();
    expect(await page.getByLabel('Connection name').inputValue()).toBe(CONNECTION);
    expect(await accessibilityProblems(page)).toEqual([]);
    await screenshots(page, 'admin-vpn-profile');
    // an L2TP profile without its shared secret is refused, and the IKEv2 one stays
    await page.getByLabel('Type').selectOption('l2tp');
    await page.getByRole('button', { name: 'Save VPN profile' }).click();
    await page.getByText('L2TP/IPsec needs its shared secret').waitFor();
    await page.goto(`${master.adminUrl}/clients/nas/vpn-profile`);
    expect(await page.getByLabel('Type').inputValue()).toBe('ikev2');
    await page.context().close();
  });

  async function passkeySignIn(page: Page): Promise<void> {
    await addAuthenticator(page.context(), page);
    await awaitFreshStep();
    await signInWithCode(page, base, 'alice', 'alice-password', totpCode(aliceSecret));
    await page.getByRole('button', { name: 'Add a passkey' }).click();
    await page.getByRole('cell', { name: '(no name)' }).waitFor();
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
    await page.getByRole('heading', { name: 'Signed in as alice' }).waitFor();
  }

  it('a user downloads the .mobileconfig of their one-time credential; RADIUS accepts the credential inside once, and a spent one gets no more files', async () => {
    const context = await newContext(browser);
    const page = await context.newPage();
    await passkeySignIn(page);
    expect(await page.getByLabel('Connection').inputValue()).toBe('nas');
    expect(await accessibilityProblems(page)).toEqual([]);
    await page.getByRole('button', { name: 'Get a one-time VPN password' }).click();
    expect(await text(page.getByRole('heading', { level: 1 }))).toBe('Your VPN login');
    expect(await text(page.getByRole('heading', { level: 2 }))).toBe(`Set up ${CONNECTION}`);
    expect(await accessibilityProblems(page)).toEqual([]);
    await screenshots(page, 'portal-vpn-downloads');
    const shown = await text(page.locator('#vpn-password'));
    master.noteSecret(shown);

    const answer = page.waitForResponse((r) => r.url().endsWith('/account/vpn-credential/mobileconfig'));
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: /Apple devices/ }).click()]);
    const headers = (await answer).headers();
    expect(headers['content-type']).toBe('application/x-apple-aspen-config');
    expect(headers['cache-control']).toBe('no-store');
    expect(download.suggestedFilename()).toBe('Office-VPN-HQ-east.mobileconfig');
    const profile = parse(readFileSync(await download.path(), 'utf8')) as Dict;
    expect(profile).toMatchObject({ PayloadType: 'Configuration' });
    expect((profile.RemovalDate as Date).getTime()).toBeGreaterThan(Date.now());
    const [vpn] = profile.PayloadContent as Dict[];
    expect(vpn).toMatchObject({ VPNType: 'IKEv2', UserDefinedName: CONNECTION, IKEv2: { AuthenticationMethod: 'None', ExtendedAuthEnabled: 1, AuthName: 'alice', RemoteAddress: 'vpn.example.test', RemoteIdentifier: 'gw.example.test' } });
    const password = (vpn!.IKEv2 as Dict).AuthPassword as string;
    expect(password).toBe(shown);

    const [script] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: /Windows/ }).click()]);
    const ps1 = readFileSync(await script.path(), 'utf8');
    expect(ps1).toContain(`rasdial $name 'alice' '${password}'`);
    expect(ps1).toContain('Remove-VpnConnection');

    expect((await radclient(master.target, SECRET, papRequest('alice', password))).code).toBe('Access-Accept');
    expect((await radclient(master.target, SECRET, papRequest('alice', password))).code).toBe('Access-Reject');
    // spent: the same button now gets a page saying so, not the file
    await page.getByRole('button', { name: /Apple devices/ }).click();
    expect(await text(page.getByRole('heading', { level: 1 }))).toBe('This VPN password is spent');
    expect(await accessibilityProblems(page)).toEqual([]);

    // without the session (another browser, here straight to the address) the download is not given, whatever is posted
    const other = await (await newContext(browser)).newPage();
    const refused = await other.request.post(`${base.replace(HOST, '127.0.0.1')}/account/vpn-credential/mobileconfig`, { form: { _csrf: 'x' }, maxRedirects: 0 });
    expect(refused.status()).toBe(303);
    await other.context().close();
    await context.close();
  });
});
