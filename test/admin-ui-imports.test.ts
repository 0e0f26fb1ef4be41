import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { toBase32 } from '@otpgate/core';
import { TestNode } from './helpers/test-node.js';
import { accessibilityProblems, launchBrowser, newContext, screenshots, signIn, text } from './helpers/browser.js';
import { papRequest, radclient } from './helpers/radclient.js';
import { awaitFreshStep, totpCode } from './helpers/otp.js';
import { REPO_ROOT } from './helpers/paths.js';

const ADMIN_PW = 'Admin-Password-imports-4k';
const NEW_ADMIN_PW = 'Changed-Admin-Password-8w';
const OPS_PW = 'Ops-Admin-Password-2m';
const SECRET = 'testing123';
const PASSPHRASE = 'a config passphrase for the browser test';
const RFC_PSKC = join(REPO_ROOT, 'packages', 'core', 'test', 'fixtures', 'rfc6030', 'figure6-psk-aes128.pskcxml');
const RFC_PSK_HEX = '12345678901234567890123456789012';

/** 160-bit hardware token seeds, base32 as Entra's CSV carries them. */
const seed = (text: string) => toBase32(Buffer.from(text.padEnd(20, '.').slice(0, 20), 'utf8'));
const HW = { alice: seed('alice-ui-hardware'), bob: seed('bob-ui-hardware'), carol: seed('carol-ui-hardware') };

/** The body rows of the table whose caption holds `caption`, one string per row (cells separated by tabs). */
async function tableRows(page: Page, caption: string): Promise<string[]> {
  const table = page.locator('table', { has: page.locator('caption', { hasText: caption }) });
  await table.first().waitFor();
  return (await table.first().locator('tbody tr').allInnerTexts()).map((r) => r.trim());
}

async function checkPage(page: Page, name: string): Promise<void> {
  expect(await accessibilityProblems(page), name).toEqual([]);
  await screenshots(page, name);
}

describe('admin UI: imports, config export/import and the account page, in a real browser', () => {
  let master: TestNode;
  let fresh: TestNode | undefined;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const hardware = async (node: TestNode) =>
    (JSON.parse(await node.cliOk('hardware', 'list', '--json')) as Array<{ serial: string; assigned_to: string | null }>).map((h) => [h.serial, h.assigned_to]);

  beforeAll(async () => {
    master = await TestNode.createMaster('ui-imports');
    await master.cliInput(ADMIN_PW, 'admin', 'set-password', '--password-stdin');
    await master.addClient('nas', '127.0.0.1', SECRET);
    for (const user of ['alice', 'bob', 'carol']) await master.cliInput(`${user}-password`, 'user', 'add', user, '--password-stdin');
    for (const s of [...Object.values(HW), PASSPHRASE, NEW_ADMIN_PW, OPS_PW, RFC_PSK_HEX]) master.noteSecret(s);
    await master.start();
    browser = await launchBrowser();
    context = await newContext(browser);
    page = await context.newPage();
    await signIn(page, master.adminUrl, 'admin', ADMIN_PW);
    expect(await text(page.getByRole('heading', { level: 1 }))).toBe('Dashboard');
  });
  afterAll(async () => {
    await browser?.close();
    await Promise.all([master?.stop(), fresh?.stop()]);
  });

  it('Azure CSV: the preview shows every verdict, errors first, and writes nothing; Commit with "skip error rows" assigns the good rows', async () => {
    const file = join(master.dir, 'azure-ui.csv');
    writeFileSync(
      file,
      [
        'upn,serial number,secret key,time interval,manufacturer,model',
        `alice@example.com,UI-1,${HW.alice},30,Feitian,c200`,
        `bob@example.com,UI-2,${HW.bob},30,Feitian,c200`,
        'carol@example.com,UI-3,NOT-BASE32!,30,Feitian,c200',
        `nobody@example.com,UI-4,${seed('nobody-ui-hardware')},30,Feitian,c200`,
        `carol@example.com,UI-5,${HW.carol},30,Feitian,c200`,
      ].join('\r\n') + '\r\n',
    );
    await page.goto(`${master.adminUrl}/imports`);
    await checkPage(page, 'master-imports');
    await page.getByLabel('Azure CSV file').setInputFiles(file);
    await page.getByLabel('Strip the domain from UPNs').check();
    await page.getByRole('button', { name: 'Preview the Azure CSV' }).click();

    expect(await text(page.getByRole('heading', { level: 1 }))).toBe('Import preview: Azure MFA OATH CSV');
    expect(await tableRows(page, 'Verdicts')).toEqual(['5\t3\t0\t0\t0\t2']);
    const rows = await tableRows(page, 'Rows, errors first');
    expect(rows).toHaveLength(5);
    expect(rows[0]).toMatch(/^4\terror\tserial UI-3 -> carol@example.com\tthe secret key is not base32: "-" at position 4/);
    expect(rows[1]).toMatch(/^5\terror\t.*\tunknown user: no user "nobody@example.com" or "nobody"/);
    expect(rows.slice(2).map((r) => r.split('\t').slice(0, 2).join(' '))).toEqual(['2 new', '3 new', '6 new']);
    // the secrets are not on the page
    const content = await page.content();
    for (const s of Object.values(HW)) expect(content).not.toContain(s);
    await checkPage(page, 'master-imports-preview');
    expect(await hardware(master)).toEqual([]);

    // without "skip error rows" the commit is refused and nothing is written
    await page.getByRole('button', { name: 'Commit' }).click();
    expect(await text(page.getByRole('alert'))).toContain('2 of 5 rows have errors');
    expect(await hardware(master)).toEqual([]);

    await page.getByLabel('Skip error rows').check();
    await page.getByRole('button', { name: 'Commit' }).click();
    expect(await text(page.getByRole('heading', { level: 1 }))).toBe('Imports');
    expect(await text(page.getByRole('status'))).toContain('Imported: 0 users, 3 tokens, 3 inventory entries, 0 groups written');
    expect(await tableRows(page, 'Last import')).toEqual([expect.stringMatching(/^Azure MFA OATH CSV\t.*\t5\t.*2 rows with errors left out/)]);
    expect((await hardware(master)).sort()).toEqual([['UI-1', 'alice'], ['UI-2', 'bob'], ['UI-5', 'carol']]);
    await awaitFreshStep();
    expect((await radclient(master.target, SECRET, papRequest('alice', `alice-password${totpCode(HW.alice)}`))).code).toBe('Access-Accept');
  });

  it('refuses to commit a preview when the users changed since it was made', async () => {
    const file = join(master.dir, 'azure-stale.csv');
    writeFileSync(file, `upn,serial number,secret key,time interval,manufacturer,model\ndave,UI-6,${seed('dave-ui-hardware')},30,X,Y\nalice,UI-7,${seed('alice-ui-second')},30,X,Y\n`);
    await page.goto(`${master.adminUrl}/imports`);
    await page.getByLabel('Azure CSV file').setInputFiles(file);
    await page.getByRole('button', { name: 'Preview the Azure CSV' }).click();
    expect(await tableRows(page, 'Verdicts')).toEqual(['2\t1\t0\t0\t0\t1']);
    // meanwhile someone adds the missing user: the row's verdict would now be "new"
    await master.cliOk('user', 'add', 'dave', '--no-password');
    await page.getByLabel('Skip error rows').check();
    await page.getByRole('button', { name: 'Commit' }).click();
    expect(await text(page.getByRole('alert'))).toContain('Nothing was written: the users, groups or inventory changed since the preview');
    expect((await hardware(master)).map(([serial]) => serial)).not.toContain('UI-7');
    expect(await page.locator('a[href="/imports/preview"]').count()).toBe(0);
  });

  it('PSKC: asks for the key in the form; with the pre-shared key the preview decrypts; a users CSV creates users and groups', async () => {
    await page.goto(`${master.adminUrl}/imports`);
    await page.getByLabel('PSKC file').setInputFiles(RFC_PSKC);
    await page.getByRole('button', { name: 'Preview the PSKC file' }).click();
    expect(await text(page.getByRole('alert'))).toContain('encrypted under a pre-shared key ("Pre-shared-key"): give it in hex (the pre-shared key field)');
    await page.getByLabel('PSKC file').setInputFiles(RFC_PSKC);
    await page.getByLabel('Pre-shared key (hex)').fill(RFC_PSK_HEX);
    await page.getByRole('button', { name: 'Preview the PSKC file' }).click();
    expect(await tableRows(page, 'Rows')).toEqual([expect.stringMatching(/^1\tnew\tserial 987654321, hotp 8 digits/)]);
    await page.getByRole('button', { name: 'Discard this preview' }).click();
    expect(await text(page.getByRole('status'))).toContain('Preview discarded');

    const users = join(master.dir, 'users-ui.csv');
    writeFileSync(users, 'username,display name,email,groups\nerin,Erin E,erin@example.com,contractors\n');
    await page.getByLabel('Users CSV file').setInputFiles(users);
    await page.getByLabel('Create groups the file names').check();
    await page.getByRole('button', { name: 'Preview the users CSV' }).click();
    expect(await tableRows(page, 'Rows')).toEqual(['2\tnew\terin (creates group contractors)']);
    await page.getByRole('button', { name: 'Commit' }).click();
    expect(await text(page.getByRole('status'))).toContain('Imported: 1 users, 0 tokens, 0 inventory entries, 1 groups written');
    expect(JSON.parse(await master.cliOk('user', 'show', 'erin', '--json'))).toMatchObject({ display_name: 'Erin E', groups: ['contractors'] });
  });

  it('exports the config as a download and the users as CSV; a fresh node imports it in its UI (dry run, then apply) and radclient accepts there', async () => {
    await page.goto(`${master.adminUrl}/config`);
    await checkPage(page, 'master-config');
    await page.getByLabel('Include users').check();
    await page.getByLabel('Include secrets').check();
    await page.getByLabel('Passphrase for the secrets').fill(PASSPHRASE);
    await page.getByLabel('Passphrase again').fill(`${PASSPHRASE}!`);
    await page.getByRole('button', { name: 'Export (download)' }).click();
    expect(await text(page.getByRole('alert'))).toContain('the two passphrases differ');

    await page.getByLabel('Include users').check();
    await page.getByLabel('Include secrets').check();
    await page.getByLabel('Passphrase for the secrets').fill(PASSPHRASE);
    await page.getByLabel('Passphrase again').fill(PASSPHRASE);
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export (download)' }).click()]);
    expect(download.suggestedFilename()).toMatch(/^otpgate-config-ui-imports-\d{4}-\d{2}-\d{2}\.json$/);
    const exported = join(master.dir, 'ui-export.json');
    await download.saveAs(exported);
    const document = readFileSync(exported, 'utf8');
    expect(JSON.parse(document)).toMatchObject({ format: 'otpgate-config', contents: { users: true, secrets: true } });
    for (const s of [...Object.values(HW), SECRET]) expect(document).not.toContain(s);

    await page.goto(`${master.adminUrl}/users`);
    const [csv] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Export every user as CSV' }).click()]);
    const csvPath = join(master.dir, 'ui-users.csv');
    await csv.saveAs(csvPath);
    const lines = readFileSync(csvPath, 'utf8').split('\r\n');
    expect(lines[0]).toBe('username,display name,email,groups,status,tokens,local password,created');
    expect(lines).toEqual(expect.arrayContaining([expect.stringMatching(/^alice,,,,active,1,yes,/), expect.stringMatching(/^erin,Erin E,erin@example.com,contractors,active,0,no,/)]));

    // the fresh node gets its own certificate from the command line first
    fresh = await TestNode.createMaster('ui-imports-fresh');
    await fresh.cliInput(ADMIN_PW, 'admin', 'set-password', '--password-stdin');
    const cert = join(fresh.dir, 'ui.crt');
    const key = join(fresh.dir, 'ui.key');
    const otherKey = join(fresh.dir, 'other.key');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '90', '-subj', '/CN=otp-ui.example.test', '-addext', 'subjectAltName=DNS:otp-ui.example.test,IP:127.0.0.1'], { stdio: 'ignore' });
    execFileSync('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', otherKey], { stdio: 'ignore' });
    const mismatched = await fresh.cli('admin', 'set-certificate', '--cert', cert, '--key', otherKey);
    expect(mismatched.code).toBe(1);
    expect(mismatched.stderr).toContain('the private key does not belong to the certificate');
    const installed = await fresh.cliOk('admin', 'set-certificate', '--cert', cert, '--key', key);
    expect(installed).toMatch(/^admin UI certificate installed: DNS:otp-ui\.example\.test, IP Address:127\.0\.0\.1, valid until \d{4}-\d{2}-\d{2}T\S+ \((89|90) days\)/);
    await fresh.start();

    const freshPage = await (await newContext(browser)).newPage();
    await signIn(freshPage, fresh.adminUrl, 'admin', ADMIN_PW);
    await freshPage.goto(`${fresh.adminUrl}/certificate`);
    expect(await text(freshPage.locator('table'))).toContain('CN=otp-ui.example.test');

    // a wrong passphrase: its own clear message, nothing written
    await freshPage.goto(`${fresh.adminUrl}/config`);
    await freshPage.getByLabel('Config document (JSON)').setInputFiles(exported);
    await freshPage.getByLabel('Passphrase of the document').fill('not the passphrase at all');
    await freshPage.getByRole('button', { name: 'Show what would change' }).click();
    expect(await text(freshPage.getByRole('alert'))).toContain('wrong passphrase: the secrets in the config document do not decrypt with it');
    expect(JSON.parse(await fresh.cliOk('user', 'list', '--json'))).toMatchObject({ total: 0 });

    await freshPage.getByLabel('Config document (JSON)').setInputFiles(exported);
    await freshPage.getByLabel('Passphrase of the document').fill(PASSPHRASE);
    await freshPage.getByRole('button', { name: 'Show what would change' }).click();
    expect(await text(freshPage.getByRole('heading', { level: 1 }))).toBe('Config import: what would change');
    const sections = await tableRows(freshPage, 'Changes per section');
    expect(sections).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^Users\t5: alice, bob, carol, dave, erin\t0\t0\t0$/),
        expect.stringMatching(/^RADIUS clients\t1: nas\t/),
        expect.stringMatching(/^Hardware tokens\t3: UI-1, UI-2, UI-5\t/),
      ]),
    );
    await checkPage(freshPage, 'fresh-config-preview');
    expect(JSON.parse(await fresh.cliOk('user', 'list', '--json'))).toMatchObject({ total: 0 });

    await freshPage.getByRole('button', { name: 'Apply the import' }).click();
    expect(await text(freshPage.getByRole('status'))).toMatch(/Imported: \d+ changes applied in one transaction/);
    expect((await hardware(fresh)).sort()).toEqual([['UI-1', 'alice'], ['UI-2', 'bob'], ['UI-5', 'carol']]);
    await awaitFreshStep();
    expect((await radclient(fresh.target, SECRET, papRequest('bob', `bob-password${totpCode(HW.bob)}`))).code).toBe('Access-Accept');
    await freshPage.context().close();
  });

  it('changes the admin password on /account: other sessions end, the old password no longer signs in', async () => {
    const other = await (await newContext(browser)).newPage();
    await signIn(other, master.adminUrl, 'admin', ADMIN_PW);
    expect(await text(other.getByRole('heading', { level: 1 }))).toBe('Dashboard');

    await page.goto(`${master.adminUrl}/account`);
    expect(await tableRows(page, 'Admin accounts')).toEqual([expect.stringMatching(/^admin\t/)]);
    await checkPage(page, 'master-account');
    await page.getByLabel('Current password').fill('not-the-password');
    await page.getByLabel('New password', { exact: true }).fill(NEW_ADMIN_PW);
    await page.getByLabel('New password again', { exact: true }).fill(NEW_ADMIN_PW);
    await page.getByRole('button', { name: 'Change password' }).click();
    expect(await text(page.getByRole('alert'))).toContain('the current password is not right');

    await page.getByLabel('Current password').fill(ADMIN_PW);
    await page.getByLabel('New password', { exact: true }).fill(NEW_ADMIN_PW);
    await page.getByLabel('New password again', { exact: true }).fill(`${NEW_ADMIN_PW}x`);
    await page.getByRole('button', { name: 'Change password' }).click();
    expect(await text(page.getByRole('alert'))).toContain('the two new passwords differ');

    await page.getByLabel('Current password').fill(ADMIN_PW);
    await page.getByLabel('New password', { exact: true }).fill(NEW_ADMIN_PW);
    await page.getByLabel('New password again', { exact: true }).fill(NEW_ADMIN_PW);
    await page.getByRole('button', { name: 'Change password' }).click();
    expect(await text(page.getByRole('status'))).toContain('Password changed');
    // this browser goes on; the other session has ended
    await page.goto(`${master.adminUrl}/users`);
    expect(await text(page.getByRole('heading', { level: 1 }))).toBe('Users');
    await other.goto(`${master.adminUrl}/users`);
    expect(await text(other.getByRole('heading', { level: 1 }))).toBe('Sign in');

    await signIn(other, master.adminUrl, 'admin', ADMIN_PW);
    expect(await text(other.getByRole('alert'))).toContain('Wrong user name, password or code');
    await signIn(other, master.adminUrl, 'admin', NEW_ADMIN_PW);
    expect(await text(other.getByRole('heading', { level: 1 }))).toBe('Dashboard');
    await other.context().close();
    expect(await master.cliInput(NEW_ADMIN_PW, 'admin', 'verify-password')).toContain('password accepted');

    // the built-in admin creates another admin account, which manages only its own password
    await page.goto(`${master.adminUrl}/account`);
    await page.getByLabel('Admin account').fill('ops');
    await page.getByLabel('Its new password', { exact: true }).fill(OPS_PW);
    await page.getByLabel('Its new password again', { exact: true }).fill(OPS_PW);
    await page.getByRole('button', { name: 'Set the password' }).click();
    expect(await text(page.getByRole('status'))).toContain('Admin account ops created');
    expect(await tableRows(page, 'Admin accounts')).toEqual([expect.stringMatching(/^admin\t/), expect.stringMatching(/^ops\t/)]);
    const ops = await (await newContext(browser)).newPage();
    await signIn(ops, master.adminUrl, 'ops', OPS_PW);
    expect(await text(ops.getByRole('heading', { level: 1 }))).toBe('Dashboard');
    await ops.goto(`${master.adminUrl}/account`);
    expect(await text(ops.getByRole('heading', { level: 2 }))).toBe('Password');
    expect(await ops.getByRole('heading', { name: 'Admin accounts' }).count()).toBe(0);
    await ops.context().close();
  });
});
