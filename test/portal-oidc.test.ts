import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { adminCertificateFiles, ensureAdminCertificate } from '@otpgate/master';
import { TestNode } from './helpers/test-node.js';
import { accessibilityProblems, launchBrowser, newContext, screenshots, text } from './helpers/browser.js';
import { papRequest, radclient } from './helpers/radclient.js';
import { freePort } from './helpers/net.js';
import { TestIdp } from './helpers/oidc-idp.js';

const SECRET = 'testing123';
/** The portal's name, which chromium maps to 127.0.0.1 (the provider is reached at 127.0.0.1 itself). */
const HOST = 'vpn.otpgate.test';
const CLIENT_ID = 'otpgate-portal';
const CLIENT_SECRET = 'portal-client-secret-7f3a9c';
const LABEL = 'Contoso (Entra ID)';
const DOMAIN = 'contoso.test';
/** The same provider and client again, marked as asking for MFA itself. */
const MFA_LABEL = 'Contoso with MFA';
const DOWN_LABEL = 'Unreachable IdP';

describe('user portal: single sign-on with an Entra-like OpenID Connect provider (chromium, oidc-provider)', () => {
  let master: TestNode;
  let idp: TestIdp;
  let browser: Browser;
  let base: string;

  beforeAll(async () => {
    master = await TestNode.createMaster('oidc-master');
    await master.addClient('nas', '127.0.0.1', SECRET);
    for (const name of ['alice', 'bob', 'carol', 'dave']) await master.cliOk('user', 'add', `${name}@${DOMAIN}`, '--no-password');
    const port = await freePort();
    base = `https://${HOST}:${port}`;

    // the provider's own certificate, which the master is told to trust through ca_file
    const idpDir = join(master.dir, 'idp');
    await ensureAdminCertificate(idpDir, ['127.0.0.1']);
    const idpFiles = adminCertificateFiles(idpDir);
    idp = new TestIdp({
      port: await freePort(),
      cert: readFileSync(idpFiles.cert, 'utf8'),
      key: readFileSync(idpFiles.key, 'utf8'),
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      redirectUris: [`${base}/account/oidc/entra/callback`, `${base}/account/oidc/entra-mfa/callback`],
    });
    idp.accounts.set('alice', { oid: 'oid-alice', preferred_username: `alice@${DOMAIN}`, upn: `alice@${DOMAIN}`, groups: ['vpn-users'] });
    idp.accounts.set('bob', { oid: 'oid-bob', preferred_username: `bob@${DOMAIN}`, upn: `bob@${DOMAIN}`, groups: ['sales'] });
    idp.accounts.set('mallory', { oid: 'oid-mallory', preferred_username: `mallory@${DOMAIN}`, groups: ['vpn-users'] });
    idp.accounts.set('carol', { oid: 'oid-carol', preferred_username: `carol@${DOMAIN}`, groups: ['vpn-users'] });
    await idp.start();

    writeFileSync(join(master.dir, 'oidc.secret'), `${CLIENT_SECRET}\n`);
    master.noteSecret(CLIENT_SECRET);
    appendFileSync(
      master.configPath,
      `enrollment:\n  enabled: true\n  listen: ["127.0.0.1:${port}"]\nportal:\n  rp_id: ${HOST}\n  origin: ${base}\n  oidc:\n` +
        `    - name: entra\n      label: ${LABEL}\n      issuer: ${idp.issuer}\n      client_id: ${CLIENT_ID}\n      client_secret_file: oidc.secret\n` +
        `      ca_file: ${idpFiles.cert}\n      match_claim: preferred_username\n      group: vpn-users\n` +
        `    - name: entra-mfa\n      label: ${MFA_LABEL}\n      issuer: ${idp.issuer}\n      client_id: ${CLIENT_ID}\n      client_secret_file: oidc.secret\n      ca_file: ${idpFiles.cert}\n      mfa: true\n` +
        `    - name: down\n      label: ${DOWN_LABEL}\n      issuer: https://127.0.0.1:${await freePort()}/${idp.tenant}/v2.0\n      client_id: x\n      client_secret: not-used\n`,
    );
    await ensureAdminCertificate(join(master.dir, 'data'), [HOST, '127.0.0.1']);
    await master.start();
    browser = await launchBrowser([`--host-resolver-rules=MAP ${HOST} 127.0.0.1`]);
  }, 180_000);
  afterAll(async () => {
    await browser?.close();
    await master?.stop();
    await idp?.stop();
  });

  /** From the portal's sign-in page through the provider's login form; the page is left where the portal put it. */
  async function signInWithSso(page: Page, account: string, label = LABEL): Promise<void> {
    await page.goto(`${base}/account`);
    await page.getByRole('link', { name: `Sign in with ${label}` }).click();
    await page.getByLabel('Account').fill(account);
    await page.getByRole('button', { name: 'Next' }).click();
    // back at the portal: the callback's answer (refused), or the account page it moves on to
    await page.waitForURL((url) => url.origin === base);
  }

  const refusal = (reason: RegExp) => master.waitForLog((l) => l.event === 'admin' && l.action === 'portal.sign-in-failed' && l.method === 'oidc:entra' && reason.test(String(l.reason)));

  it('signs in through the provider and hands out a VPN password that RADIUS accepts once, logged as oidc:entra', async () => {
    const context = await newContext(browser);
    const page = await context.newPage();
    await signInWithSso(page, 'alice');
    await page.getByRole('heading', { name: `Signed in as alice@${DOMAIN}` }).waitFor();
    // the provider is not marked mfa: its sign-in is one factor, so no passkey is added from it
    expect(await page.getByRole('button', { name: 'Add a passkey' }).count()).toBe(0);
    await page.getByText('To add a passkey, sign in with your password and code').waitFor();
    const registration = await page.evaluate(async () => {
      const csrf = document.querySelector<HTMLMetaElement>('meta[name="csrf"]')!.content;
      const r = await fetch('/account/passkeys/options', { method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': csrf }, body: '{}' });
      return r.status;
    });
    expect(registration).toBe(403);
    expect(await accessibilityProblems(page)).toEqual([]);
    await screenshots(page, 'portal-oidc-account');

    await page.getByRole('button', { name: 'Get a one-time VPN password' }).click();
    expect(await text(page.getByRole('heading', { level: 1 }))).toBe('Your VPN login');
    const password = await text(page.locator('#vpn-password'));
    master.noteSecret(password);
    const mark = await master.mark();
    expect((await radclient(master.target, SECRET, papRequest(`alice@${DOMAIN}`, password))).code).toBe('Access-Accept');
    expect(await master.authAfter(mark, `alice@${DOMAIN}`)).toMatchObject({ policy: 'vpn-credential', backend: 'oidc:entra' });
    expect((await radclient(master.target, SECRET, papRequest(`alice@${DOMAIN}`, password))).code).toBe('Access-Reject');
    await master.waitForLog((l) => l.event === 'admin' && l.action === 'portal.sign-in' && l.target === `alice@${DOMAIN}` && l.method === 'oidc:entra');
    await context.close();
  });

  it('refuses an identity no otpgate user matches, and one outside the required group, with the same page', async () => {
    for (const [account, reason] of [
      ['mallory', /no otpgate user has that name/],
      ['bob', /not in the group "vpn-users"/],
    ] as const) {
      const context = await newContext(browser);
      const page = await context.newPage();
      await signInWithSso(page, account);
      await page.getByRole('heading', { name: 'Not signed in' }).waitFor();
      await page.getByText(`Your ${LABEL} account cannot sign in here`).waitFor();
      await refusal(reason);
      if (account === 'bob') {
        expect(await accessibilityProblems(page)).toEqual([]);
        await screenshots(page, 'portal-oidc-refused');
      }
      await page.goto(`${base}/account`);
      expect(await page.getByRole('heading', { name: /^Signed in as/ }).count()).toBe(0);
      await context.close();
    }
  });

  it('keeps signing an identity in as the user it first matched (tid + oid) after a rename, and never gives that user to another identity', async () => {
    let context = await newContext(browser);
    let page = await context.newPage();
    await signInWithSso(page, 'carol');
    await page.getByRole('heading', { name: `Signed in as carol@${DOMAIN}` }).waitFor();
    await context.close();

    // renamed at the provider to a name that is another otpgate user's: still carol
    idp.accounts.set('carol', { oid: 'oid-carol', preferred_username: `dave@${DOMAIN}`, groups: ['vpn-users'] });
    context = await newContext(browser);
    page = await context.newPage();
    await signInWithSso(page, 'carol');
    await page.getByRole('heading', { name: `Signed in as carol@${DOMAIN}` }).waitFor();
    await context.close();

    // a new person at the provider given the freed name carol: not carol's account
    idp.accounts.set('carol2', { oid: 'oid-carol-2', preferred_username: `carol@${DOMAIN}`, groups: ['vpn-users'] });
    context = await newContext(browser);
    page = await context.newPage();
    await signInWithSso(page, 'carol2');
    await page.getByRole('heading', { name: 'Not signed in' }).waitFor();
    await refusal(/signs in with another identity of this provider/);
    await context.close();

    // an admin sees the link, and removes it (carol's account at the provider was re-created): the next identity
    // named carol is linked instead
    const links = JSON.parse(await master.cliOk('sso', 'list', `carol@${DOMAIN}`, '--json')) as Array<{ provider: string; subject: string }>;
    expect(links).toMatchObject([{ provider: 'entra', subject: `${idp.tenant}/oid-carol` }]);
    await master.cliOk('sso', 'unlink', `carol@${DOMAIN}`, 'entra');
    context = await newContext(browser);
    page = await context.newPage();
    await signInWithSso(page, 'carol2');
    await page.getByRole('heading', { name: `Signed in as carol@${DOMAIN}` }).waitFor();
    await context.close();
  });

  it('refuses an answer whose state or nonce was tampered with, and a callback replayed', async () => {
    for (const [param, reason] of [
      ['state', /state/],
      ['nonce', /nonce/],
    ] as const) {
      const context = await newContext(browser);
      const page = await context.newPage();
      // the authorization request, its state (or nonce) replaced on the way to the provider
      idp.tamper = (params) => params.set(param, 'tampered-value-0123456789');
      await signInWithSso(page, 'alice');
      await page.getByRole('heading', { name: 'Not signed in' }).waitFor();
      idp.tamper = undefined;
      await refusal(reason);
      await context.close();
    }

    // the provider's answer of a finished sign-in, sent again: the sign-in it belonged to is spent
    const context = await newContext(browser);
    const page = await context.newPage();
    let callback = '';
    page.on('request', (r) => {
      if (r.url().startsWith(`${base}/account/oidc/entra/callback`)) callback = r.url();
    });
    await signInWithSso(page, 'alice');
    await page.getByRole('heading', { name: `Signed in as alice@${DOMAIN}` }).waitFor();
    await page.goto(callback);
    await page.getByRole('heading', { name: 'Not signed in' }).waitFor();
    await refusal(/no sign-in with this provider under way/);
    await context.close();
  });

  it('a provider marked mfa lets its sessions add a passkey; one that cannot be reached gets a page saying so', async () => {
    let context = await newContext(browser);
    let page = await context.newPage();
    await signInWithSso(page, 'alice', MFA_LABEL);
    await page.getByRole('heading', { name: `Signed in as alice@${DOMAIN}` }).waitFor();
    expect(await page.getByLabel('Name of the new passkey').count()).toBe(1);
    await context.close();

    context = await newContext(browser);
    page = await context.newPage();
    await page.goto(`${base}/account`);
    await page.getByRole('link', { name: `Sign in with ${DOWN_LABEL}` }).click();
    await page.getByRole('heading', { name: 'Sign-in unavailable' }).waitFor();
    expect(await accessibilityProblems(page)).toEqual([]);
    await master.waitForLog((l) => l.event === 'oidc-provider-unavailable' && l.provider === 'down');
    await context.close();
  });

  it('the sign-in page offers the provider, accessibly, at phone width', async () => {
    const context = await newContext(browser, 'phone');
    const page = await context.newPage();
    await page.goto(`${base}/account`);
    await page.getByRole('link', { name: `Sign in with ${LABEL}` }).waitFor();
    expect(await accessibilityProblems(page)).toEqual([]);
    await screenshots(page, 'portal-oidc-sign-in');
    await context.close();
  });
});
