import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { AxeBuilder } from '@axe-core/playwright';
import jsQRModule from 'jsqr';
import { OUTPUT_DIR } from './paths.js';

export const SCREENSHOT_DIR = join(OUTPUT_DIR, 'screenshots');

/**
 * Debian's chromium, headless, driven by playwright-core (the bundled browser download is not reachable here).
 * The flags keep it from reaching for Google's services, which this closed network refuses.
 */
export async function launchBrowser(extraArgs: readonly string[] = []): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', ...extraArgs],
  });
}

/** A browser context that accepts the node's self-signed admin certificate (the tests check it by fingerprint). */
export function newContext(browser: Browser, viewport: 'desktop' | 'phone' = 'desktop'): Promise<BrowserContext> {
  return browser.newContext({
    ignoreHTTPSErrors: true,
    viewport: viewport === 'desktop' ? { width: 1280, height: 900 } : { width: 390, height: 844 },
    isMobile: viewport === 'phone',
  });
}

/** Screenshot at desktop and phone widths into test-output/screenshots/NAME-{desktop,phone}.png. */
export async function screenshots(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const size = page.viewportSize();
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.screenshot({ path: join(SCREENSHOT_DIR, `${name}-desktop.png`), fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.screenshot({ path: join(SCREENSHOT_DIR, `${name}-phone.png`), fullPage: true });
  if (size) await page.setViewportSize(size);
}

/** axe-core on the page: the serious and critical violations, described (empty when none). */
export async function accessibilityProblems(page: Page): Promise<string[]> {
  const result = await new AxeBuilder({ page }).analyze();
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).slice(0, 3).join('; ')}`);
}

// jsqr is CommonJS with the function as module.exports and, for bundlers, as .default
const jsQR = ((jsQRModule as unknown as { default?: typeof jsQRModule }).default ?? jsQRModule) as unknown as (
  data: Uint8ClampedArray,
  width: number,
  height: number,
) => { data: string } | null;

/** Read the QR code shown in the page's SVG, as a phone's camera would: screenshot, then jsQR on its pixels. */
export async function decodeQr(page: Page, selector = '.qr svg'): Promise<string> {
  const png = await page.locator(selector).screenshot();
  // the page itself turns the PNG into pixels (canvas), so no image library is needed here
  const { width, height, data } = await page.evaluate(async (b64) => {
    const img = new Image();
    img.src = `data:image/png;base64,${b64}`;
    await img.decode();
    const canvas = document.createElement('canvas');
    canvas.width = img.width;
    canvas.height = img.height;
    const ctx = canvas.getContext('2d')!;
    ctx.drawImage(img, 0, 0);
    return { width: img.width, height: img.height, data: Array.from(ctx.getImageData(0, 0, img.width, img.height).data) };
  }, png.toString('base64'));
  const code = jsQR(new Uint8ClampedArray(data), width, height);
  if (!code) throw new Error('no QR code found in the page');
  return code.data;
}

/** Signs in to an admin UI's form (password only; the page after it is the caller's to check). */
export async function signIn(page: Page, base: string, user: string, password: string): Promise<void> {
  await page.goto(`${base}/login`);
  await page.getByLabel('User name').fill(user);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

/** The text of the first element the locator finds, once it is there. */
export async function text(locator: Locator): Promise<string> {
  await locator.first().waitFor();
  return (await locator.first().innerText()).trim();
}
