import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdminAuditService, Store, createLogger, type AdminAuditEntry } from '@otpgate/core';
import { TestNode } from './helpers/test-node.js';
import { httpsSend } from './helpers/https.js';

const ADMIN_PW = 'Admin-Password-bounds-1';
const TWO_MB_NAME = 'n'.repeat(2 * 1024 * 1024);
/** Both web servers answer 127.0.0.1 only; any other loopback address stands for a stranger. */
const ALLOW = '  allow: ["127.0.0.1/32"]\n';
const STRANGER = '127.0.0.2';

/** The sign-in form's double-submit token: its cookie and the hidden field's value. */
async function signInToken(url: string, cookieName: string, localAddress?: string): Promise<{ cookie: string; field: string }> {
  const page = await httpsSend('GET', url, '', '', { localAddress });
  const setCookie = (page.headers['set-cookie'] ?? []).find((c) => c.startsWith(`${cookieName}=`));
  return { cookie: setCookie!.split(';')[0]!, field: /name="_signin" value="([^"]+)"/.exec(page.text)![1]! };
}

const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();

function dataBytes(node: TestNode): number {
  const dir = join(node.dir, 'data');
  return readdirSync(dir).reduce((sum, f) => sum + statSync(join(dir, f)).size, 0);
}

/** Every admin audit row, read beside the running node (SQLite WAL lets a reader in). */
async function auditRows(node: TestNode): Promise<AdminAuditEntry[]> {
  const store = await Store.openReadOnly(join(node.dir, 'data'));
  try {
    return new AdminAuditService(store, createLogger('silent', 'test')).list({ limit: 100_000 });
  } finally {
    store.close();
  }
}

const longestCell = (rows: readonly AdminAuditEntry[]) =>
  Math.max(0, ...rows.flatMap((r) => [r.actor, r.source, r.action, r.target, r.before, r.after, r.details].map((v) => (v ?? '').length)));

describe('web sign-ins with over-long input, and who may reach the web servers', () => {
  let node: TestNode;

  beforeAll(async () => {
    node = await TestNode.create('web-bounds', {
      admin: ALLOW,
      config: `enrollment:\n  enabled: true\n  listen: ["127.0.0.1:0"]\n${ALLOW}`,
      log: '  admin_audit_max_rows: 100\n',
    });
    await node.cliInput(ADMIN_PW, 'admin', 'set-password', '--password-stdin');
    await node.start();
  });
  afterAll(() => node?.stop());

  for (const app of [
    { name: 'admin sign-in', url: () => `${node.adminUrl}/login`, page: () => `${node.adminUrl}/login`, cookie: '__Host-otpgate-signin', map: 'admin_signin_failures', server: 'admin UI' },
    { name: 'portal sign-in', url: () => `${node.enrollUrl}/sign-in`, page: () => `${node.enrollUrl}/`, cookie: '__Host-otpgate-enroll-signin', map: 'portal_signin_addresses', server: 'enrollment portal' },
  ]) {
    it(`${app.name}: a 2 MB user name is refused with 413, stored nowhere, and grows neither the data folder nor the guard`, async () => {
      const rowsBefore = (await auditRows(node)).length;
      const bytesBefore = dataBytes(node);
      for (let i = 0; i < 10; i++) {
        const token = await signInToken(app.page(), app.cookie);
        const answer = await httpsSend('POST', app.url(), form({ _signin: token.field, username: TWO_MB_NAME, password: 'x' }), token.cookie);
        expect(answer.status).toBe(413);
        expect(answer.text).toContain('The form sent more than 64 KiB');
      }
      // one byte over the user name's own limit: refused the same way, naming the field
      const token = await signInToken(app.page(), app.cookie);
      const over = await httpsSend('POST', app.url(), form({ _signin: token.field, username: 'n'.repeat(257), password: 'x' }), token.cookie);
      expect(over.status).toBe(413);
      expect(over.text).toContain('The field &quot;username&quot; is too long: 257 bytes, at most 256 bytes are accepted.');
      const rows = await auditRows(node);
      expect(rows.length).toBe(rowsBefore);
      expect(dataBytes(node) - bytesBefore).toBeLessThan(1024 * 1024);
      // the guard never saw the name: its map holds no entry for it
      expect(await node.metric('otpgate_bounded_map_entries', { map: app.map })).toBe(0);
      await node.waitForLog((l) => l.event === 'web-input-too-large' && l.server === app.server);
      expect(JSON.stringify(node.logs())).not.toContain('nnnnnnnnnnnnnnnn');
    });
  }

  it('admin sign-in: a wrong password with a name within limits is still refused, audited and counted by the guard', async () => {
    const token = await signInToken(`${node.adminUrl}/login`, '__Host-otpgate-signin');
    const name = `x${'é'.repeat(127)}`; // 255 bytes
    const answer = await httpsSend('POST', `${node.adminUrl}/login`, form({ _signin: token.field, username: name, password: 'wrong' }), token.cookie);
    expect(answer.status).toBe(401);
    const rows = await auditRows(node);
    expect(rows[0]).toMatchObject({ action: 'admin.sign-in-failed', actor: name, target: name });
    expect(longestCell(rows)).toBeLessThan(1024);
    expect(await node.metric('otpgate_bounded_map_entries', { map: 'admin_signin_failures' })).toBe(1);
  });

  it('refuses both web servers to an address outside admin.allow / enrollment.allow with 403, and logs it once', async () => {
    for (const url of [`${node.adminUrl}/login`, `${node.enrollUrl}/`, `${node.adminUrl}/assets/style.css`]) {
      expect((await httpsSend('GET', url)).status, url).toBe(200);
      const refused = await httpsSend('GET', url, '', '', { localAddress: STRANGER });
      expect(refused.status, url).toBe(403);
      expect(refused.text).toContain('Requests from your address are not accepted here.');
    }
    // refused before the body is read: even an over-long sign-in gets 403, not 413
    expect((await httpsSend('POST', `${node.adminUrl}/login`, form({ username: TWO_MB_NAME }), '', { localAddress: STRANGER })).status).toBe(403);
    // the log line may trail the answer
    await node.waitForLog((l) => l.event === 'web-address-refused' && l.server === 'enrollment portal');
    const lines = node.logs().filter((l) => l.event === 'web-address-refused');
    expect(lines.map((l) => [l.server, l.from])).toEqual([
      ['admin UI', STRANGER],
      ['enrollment portal', STRANGER],
    ]);
    expect(lines[0]!.msg).toContain('not in admin.allow');
  });

  it('prunes the admin audit log to log.admin_audit_max_rows at start, in the background', async () => {
    await node.stop();
    const store = await Store.open(join(node.dir, 'data'));
    const audit = new AdminAuditService(store, createLogger('silent', 'test'));
    for (let i = 0; i < 150; i++) audit.record({ name: 'admin', source: 'cli' }, 'user.add', `bulk${i}`);
    store.close();
    await node.start();
    const line = await node.waitForLog((l) => l.event === 'retention' && l.table === 'admin_audit');
    expect(Number(line.over_cap)).toBeGreaterThanOrEqual(50);
    const rows = await auditRows(node);
    expect(rows.length).toBeLessThanOrEqual(100);
    expect(rows[0]!.target).toBe('bulk149');
  });
});
