import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { ensureAdminCertificate } from '@otpgate/master';
import type { TestNode } from './test-node.js';
import { launchBrowser } from './browser.js';
import { freePort } from './net.js';

/**
 * The user portal driven in chromium. WebAuthn refuses IP addresses, so the portal is served under a host name that
 * chromium maps to 127.0.0.1, with a certificate for it; CDP's virtual authenticator stands in for the user's key.
 */

/** A platform passkey: resident keys and user verification. */
export const PLATFORM_PASSKEY = { transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true } as const;
/** A plain USB security key: no resident keys, no user verification (good as a second factor only). */
export const USB_KEY = { transport: 'usb', hasResidentKey: false, hasUserVerification: false } as const;

/**
 * Turn on the master's portal at https://HOST:PORT (written to its config before it starts, with `portalYaml`: more
 * lines of the portal section) and give its web certificate that name. Returns the portal's origin.
 */
export async function servePortal(master: TestNode, host: string, portalYaml = ''): Promise<string> {
  const port = await freePort();
  const base = `https://${host}:${port}`;
  appendFileSync(master.configPath, `enrollment:\n  enabled: true\n  listen: ["127.0.0.1:${port}"]\nportal:\n  rp_id: ${host}\n  origin: ${base}\n${portalYaml}`);
  // a certificate for the name (the browser still does not trust its issuer: ignoreHTTPSErrors)
  await ensureAdminCertificate(join(master.dir, 'data'), [host, '127.0.0.1']);
  return base;
}

/** chromium, resolving `host` to 127.0.0.1. */
export function launchPortalBrowser(host: string): Promise<Browser> {
  return launchBrowser([`--host-resolver-rules=MAP ${host} 127.0.0.1`]);
}

/** CDP's virtual authenticator, always present: by default a platform passkey with resident keys and user verification. */
export async function addAuthenticator(
  context: BrowserContext,
  page: Page,
  kind: typeof PLATFORM_PASSKEY | typeof USB_KEY = PLATFORM_PASSKEY,
): Promise<{ signCount: () => Promise<number[]>; rewind: () => Promise<void> }> {
  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable', { enableUI: false });
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: { protocol: 'ctap2', ctap2Version: 'ctap2_1', automaticPresenceSimulation: true, ...kind },
  });
  return {
    signCount: async () => (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials.map((c) => c.signCount),
    /** A clone of the authenticator made before its last uses: the same keys, the counters set back to 0. */
    rewind: async () => {
      for (const credential of (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials) {
        await cdp.send('WebAuthn.removeCredential', { authenticatorId, credentialId: credential.credentialId });
        await cdp.send('WebAuthn.addCredential', { authenticatorId, credential: { ...credential, signCount: 0 } });
      }
    },
  };
}

/** The portal's sign-in form with password and code. */
export async function signInWithCode(page: Page, base: string, username: string, password: string, code: string): Promise<void> {
  await page.goto(`${base}/account`);
  await page.getByLabel('User name').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByLabel('Current code').fill(code);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
}
