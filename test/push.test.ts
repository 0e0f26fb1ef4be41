import { appendFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { TestNode, type LogLine } from './helpers/test-node.js';
import { accessibilityProblems, newContext, screenshots, text } from './helpers/browser.js';
import { papRequest, radclient, type RadReply } from './helpers/radclient.js';
import { awaitFreshStep, totpCode } from './helpers/otp.js';
import { WebhookReceiver } from './helpers/webhook-receiver.js';
import { addAuthenticator, launchPortalBrowser, servePortal, signInWithCode } from './helpers/portal-browser.js';

const SECRET = 'testing123';
/** WebAuthn refuses IP addresses: the portal is reached by this name, which chromium maps to 127.0.0.1. */
const HOST = 'vpn.push.otpgate.test';
/** A held login waits up to the push timeout: radclient waits longer, and sends once (its -r counts sends). */
const HELD = { timeoutSeconds: 40, retries: 1 };
/** The chat bridge's signing secret (notify.webhooks): pushes reach it signed. */
const WEBHOOK_SECRET = `whsec_${Buffer.from('push-test-webhook-key-32-bytes-long').toString('base64')}`;

describe('push approval over RADIUS (radclient held, approved in chromium with a passkey)', () => {
  let master: TestNode;
  let replica: TestNode;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let base: string;
  const webhook = new WebhookReceiver(WEBHOOK_SECRET);

  beforeAll(async () => {
    master = await TestNode.createMaster('push-master');
    await master.addClient('nas', '127.0.0.1', SECRET);
    const secret = await master.addUserWithToken('alice', 'alice-password', '--mode', 'push');
    await master.addUserWithToken('bob', 'bob-password', '--mode', 'push');
    // the tests send more than the default 3 pushes a minute (the limit itself: packages/core/test/push-service.test.ts)
    await master.cliOk('settings', 'set', 'push.max_per_user_per_minute', '60');
    // VPN passwords expire after the least time allowed, so that the test sees one expire
    base = await servePortal(master, HOST, '  vpn_credential_seconds: 10\n');
    master.noteSecret(WEBHOOK_SECRET);
    appendFileSync(master.configPath, `notify:\n  webhooks:\n    - name: chat\n      url: ${await webhook.start()}\n      secret: ${WEBHOOK_SECRET}\n`);
    await master.start();
    replica = await TestNode.createReplica('push-replica', master);
    await replica.start();
    browser = await launchPortalBrowser(HOST);
    context = await newContext(browser);
    page = await context.newPage();
    await addAuthenticator(context, page);
    // alice signs in with password + code and registers a passkey: approvals then need it
    await awaitFreshStep();
    await signInWithCode(page, base, 'alice', 'alice-password', totpCode(secret));
    await page.getByRole('button', { name: 'Add a passkey' }).click();
    await page.getByRole('cell', { name: '(no name)' }).waitFor();
  }, 180_000);
  afterAll(async () => {
    await browser?.close();
    await Promise.all([master?.stop(), replica?.stop(), webhook.stop()]);
  });

  /** The notices the master has logged for alice's pushes so far. */
  const notices = () => master.logs().filter((l) => l.event === 'notice' && l.kind === 'push' && l.user === 'alice');

  /** Send a login and wait until its push is noticed; the reply comes when it is answered. */
  async function held(node: TestNode, attributes: string[], options: { timeoutSeconds: number; retries: number } = HELD): Promise<{ reply: Promise<RadReply>; notice: LogLine }> {
    const before = notices().length;
    const reply = radclient(node.target, SECRET, attributes, options);
    const notice = await master.waitForLog((l) => l.event === 'notice' && l.kind === 'push' && notices().indexOf(l) >= before, 20_000);
    return { reply, notice };
  }

  async function approve(notice: LogLine, number?: string): Promise<void> {
    await page.goto(String(notice.approve_url));
    await page.getByRole('heading', { name: 'Approve this login?' }).waitFor();
    if (number) await page.getByLabel(number, { exact: true }).check();
    await page.getByRole('button', { name: 'Approve with your passkey' }).click();
    await page.getByText('This login was approved.').waitFor();
  }

  it('the password alone is held until approved with the passkey, then Accepted and logged as push; the page shows client, address and time', async () => {
    const mark = await master.mark();
    const { reply, notice } = await held(master, papRequest('alice', 'alice-password'));
    await page.goto(`${base}/account`);
    await page.getByRole('link', { name: /Login through nas from 127\.0\.0\.1/ }).click();
    expect(await text(page.locator('dl.credential'))).toMatch(/nas[\s\S]*127\.0\.0\.1/);
    expect(await accessibilityProblems(page)).toEqual([]);
    await screenshots(page, 'portal-push-approve');
    await page.getByRole('button', { name: 'Approve with your passkey' }).click();
    await page.getByText('This login was approved.').waitFor();
    expect(await accessibilityProblems(page)).toEqual([]);
    expect((await reply).code).toBe('Access-Accept');
    expect(await master.authAfter(mark, 'alice')).toMatchObject({ result: 'accept', policy: 'push' });
    expect(notice.approve_url).toMatch(new RegExp(`^${base}/account/push/[A-Za-z0-9_-]{22}$`));
    await master.waitForLog((l) => l.action === 'push.approved' && l.target === 'alice');
    // the push went out on the configured channel too, signed
    const delivered = webhook.received.map((d) => ({ valid: d.valid, body: JSON.parse(d.body) as { type: string; data: { approve_url?: string; user?: string } } }));
    expect(delivered).toContainEqual({ valid: true, body: expect.objectContaining({ type: 'push.requested', data: expect.objectContaining({ user: 'alice', approve_url: notice.approve_url }) }) as unknown });
  });

  it('a passkey sign-in gives a one-time VPN password that a replica accepts once, and refuses once expired', async () => {
    await page.goto(`${base}/account`);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
    await page.getByRole('heading', { name: 'Signed in as alice' }).waitFor();
    await page.getByRole('button', { name: 'Get a one-time VPN password' }).click();
    const password = await text(page.locator('#vpn-password'));
    master.noteSecret(password);
    const mark = await replica.mark();
    expect((await radclient(replica.target, SECRET, papRequest('alice', password))).code).toBe('Access-Accept');
    expect(await replica.authAfter(mark, 'alice')).toMatchObject({ result: 'accept', policy: 'vpn-credential', backend: 'passkey' });
    expect((await radclient(replica.target, SECRET, papRequest('alice', password))).code).toBe('Access-Reject');
    expect((await radclient(master.target, SECRET, papRequest('alice', password))).code).toBe('Access-Reject');
    // one left unused past its expiry is refused on the replica as expired
    await page.goto(`${base}/account`);
    await page.getByRole('button', { name: 'Get a one-time VPN password' }).click();
    const late = await text(page.locator('#vpn-password'));
    master.noteSecret(late);
    await new Promise((resolve) => setTimeout(resolve, 11_000));
    const expired = await replica.mark();
    expect((await radclient(replica.target, SECRET, papRequest('alice', late))).code).toBe('Access-Reject');
    expect(await replica.authAfter(expired, 'alice')).toMatchObject({ result: 'reject', reason: 'credential-expired' });
  });

  it('"push" in place of the code, denied on the portal: Reject (push-denied)', async () => {
    const mark = await master.mark();
    const { reply, notice } = await held(master, papRequest('alice', 'alice-passwordpush'));
    await page.goto(String(notice.approve_url));
    await page.getByRole('button', { name: 'Deny' }).click();
    await page.getByText('Denied: the login is refused.').waitFor();
    expect((await reply).code).toBe('Access-Reject');
    expect(await master.authAfter(mark, 'alice')).toMatchObject({ result: 'reject', reason: 'push-denied' });
  });

  it('a retransmission during the wait joins it: one push, one answer', async () => {
    const before = notices().length;
    // radclient sends the same packet again every 3 s until answered
    const { reply, notice } = await held(master, papRequest('alice', 'alice-password'), { timeoutSeconds: 3, retries: 10 });
    await master.waitForLog((l) => l.event === 'radius-drop' && l.cause === 'duplicate-in-progress', 10_000);
    await approve(notice);
    expect((await reply).code).toBe('Access-Accept');
    expect(notices().length - before).toBe(1);
  });

  it('on a replica: the push is made on the master, and the approval there reaches the replica\'s held login', async () => {
    const mark = await replica.mark();
    const { reply, notice } = await held(replica, papRequest('alice', 'alice-password'));
    await approve(notice);
    expect((await reply).code).toBe('Access-Accept');
    expect(await replica.authAfter(mark, 'alice')).toMatchObject({ result: 'accept', policy: 'push' });
  });

  it('number matching: an Access-Challenge shows a 2-digit number; the answer is held until approved with that number', async () => {
    await master.configure('settings', 'set', 'push.number_matching', 'true');
    const challenge = await radclient(master.target, SECRET, papRequest('alice', 'alice-password'));
    expect(challenge.code).toBe('Access-Challenge');
    const number = /pick (\d{2})\b/.exec(challenge.attributes.get('Reply-Message')?.[0] ?? '')?.[1];
    expect(number).toMatch(/^\d{2}$/);
    const state = challenge.attributes.get('State')![0]!;
    const { reply, notice } = await held(master, papRequest('alice', 'ok', [`State = ${state}`]));
    await page.goto(String(notice.approve_url));
    expect(await accessibilityProblems(page)).toEqual([]);
    await screenshots(page, 'portal-push-number');
    await approve(notice, number);
    expect((await reply).code).toBe('Access-Accept');
    await master.configure('settings', 'set', 'push.number_matching', 'false');
  });

  it('no answer within push.timeout_seconds: Reject (push-timeout), audited as timed out', async () => {
    await master.configure('settings', 'set', 'push.timeout_seconds', '5');
    const mark = await master.mark();
    const { reply } = await held(master, papRequest('alice', 'alice-password'));
    expect((await reply).code).toBe('Access-Reject');
    expect(await master.authAfter(mark, 'alice')).toMatchObject({ result: 'reject', reason: 'push-timeout' });
    await master.waitForLog((l) => l.action === 'push.timed-out' && l.target === 'alice');
    await master.configure('settings', 'set', 'push.timeout_seconds', '25');
  });

  it('"this wasn\'t me": Reject, the account is locked, admins alerted', async () => {
    const { reply, notice } = await held(master, papRequest('alice', 'alice-password'));
    await page.goto(String(notice.approve_url));
    await page.getByRole('button', { name: "This wasn't me" }).click();
    await page.getByText(/your account is locked/).waitFor();
    expect((await reply).code).toBe('Access-Reject');
    await master.waitForLog((l) => l.event === 'notice' && l.kind === 'alert' && l.user === 'alice');
    await master.waitForLog((l) => l.action === 'push.not-me' && l.target === 'alice');
    const mark = await master.mark();
    expect((await radclient(master.target, SECRET, papRequest('alice', 'alice-password'))).code).toBe('Access-Reject');
    expect(await master.authAfter(mark, 'alice')).toMatchObject({ result: 'reject', reason: 'locked' });
  });

  it('a replica that cannot reach the master makes no push: Reject (push-unavailable), with the reason in the log', async () => {
    await master.stop();
    const mark = await replica.mark();
    expect((await radclient(replica.target, SECRET, papRequest('bob', 'bob-password'), HELD)).code).toBe('Access-Reject');
    expect(await replica.authAfter(mark, 'bob')).toMatchObject({ result: 'reject', reason: 'push-unavailable', detail: expect.stringContaining('master') });
  });
});
