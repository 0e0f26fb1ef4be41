import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../src/logger.js';
import { fromBase32 } from '../src/otp/secret.js';
import { codeAt, timeStep } from '../src/otp/verify.js';
import { AUDIT_JSON_MAX_BYTES, AUDIT_TEXT_MAX_BYTES, AdminAuditService, clipText, withoutSecrets } from '../src/services/admin-audit.js';
import type { Actor } from '../src/services/context.js';
import { SEED_HEX, createFixture, type Fixture } from './store-fixture.js';

const ADMIN: Actor = { name: 'alice-admin', source: '192.0.2.55' };
const CLIENT_SECRET = 'client-secret-Zk93';

let f: Fixture;
let audit: AdminAuditService;
beforeEach(async () => {
  f = await createFixture();
  audit = new AdminAuditService(f.store, createLogger('silent', 'test'));
});
afterEach(() => f.close());

describe('the admin audit log', () => {
  it('records who, from where, what, and the record before and after, for every service action', async () => {
    await f.services.users.add({ username: 'bob', display_name: 'Bob' }, ADMIN);
    f.services.users.update('bob', { display_name: 'Robert' }, ADMIN);
    f.services.users.setStatus('bob', 'disabled', ADMIN);
    f.services.clients.add({ name: 'nas', address: '192.0.2.1', secret: CLIENT_SECRET }, ADMIN);
    f.services.clients.update('nas', { secret: `${CLIENT_SECRET}-new`, description: 'edge' }, ADMIN);
    const { token } = f.services.tokens.add('bob', { secret: SEED_HEX }, ADMIN);
    f.services.tokens.remove(token.id, ADMIN);
    f.services.settings.set('lockout.max_failures', '3', ADMIN);
    f.services.users.remove('bob', ADMIN);

    const entries = audit.list().reverse();
    expect(entries.map((e) => e.action)).toEqual([
      'user.add', 'user.update', 'user.disable', 'client.add', 'client.update', 'token.add', 'token.remove', 'settings.update', 'user.remove',
    ]);
    for (const e of entries) expect(e).toMatchObject({ actor: 'alice-admin', source: '192.0.2.55' });
    const update = entries[1]!;
    expect(JSON.parse(update.before!)).toMatchObject({ display_name: 'Bob' });
    expect(JSON.parse(update.after!)).toMatchObject({ display_name: 'Robert' });
    expect(JSON.parse(entries[7]!.before!).lockout.max_failures).toBe(5);
    expect(JSON.parse(entries[7]!.after!).lockout.max_failures).toBe(3);
    // never a secret: the client secret and the token seed are marked set, not written
    const everything = JSON.stringify(entries);
    expect(everything).not.toContain(CLIENT_SECRET);
    expect(everything).not.toContain('GEZDGNBVGY3TQOJQ');
    expect(JSON.parse(entries[4]!.after!).secret).toBe('(set)');
    expect(readFileSync(join(f.dir, 'data', 'otpgate.db')).toString('latin1')).not.toContain(CLIENT_SECRET);
  });

  it('records the state before for token, hardware and user status changes, without the seed', async () => {
    await f.services.users.add({ username: 'bob' }, ADMIN);
    const { token } = f.services.tokens.add('bob', { secret: SEED_HEX }, ADMIN);
    f.services.tokens.setActive(token.id, false, ADMIN);
    f.services.tokens.setActive(token.id, true, ADMIN);
    f.services.tokens.setWindow(token.id, 0, 3, ADMIN);
    const now = Date.now();
    const step = timeStep({ t0: 0, period: 30 }, now);
    const key = { key: fromBase32(token.secret), algorithm: 'SHA1' as const, digits: 6 as const };
    f.services.tokens.resync(token.id, codeAt(key, step + 2), codeAt(key, step + 3), ADMIN, now);
    f.services.tokens.resetReplay(token.id, ADMIN);
    expect(f.store.read('token_state', String(token.id))).toBeUndefined();
    f.services.tokens.remove(token.id, ADMIN);
    f.services.tokens.addHardware({ serial: 'HW-9', secret: SEED_HEX, model: 'c200' }, ADMIN);
    f.services.tokens.assign('HW-9', 'bob', ADMIN);
    f.services.tokens.unassign('HW-9', ADMIN);
    f.services.tokens.removeHardware('HW-9', ADMIN);
    f.services.users.setStatus('bob', 'disabled', ADMIN);
    f.services.users.setStatus('bob', 'active', ADMIN);
    f.services.users.unlock('bob', ADMIN);

    const before = (action: string, nth = 0) => JSON.parse(audit.list({ action }).reverse()[nth]!.before ?? 'null') as Record<string, unknown> | null;
    expect(before('token.disable')).toMatchObject({ id: token.id, active: true, secret: '(set)' });
    expect(before('token.enable')).toMatchObject({ id: token.id, active: false });
    expect(before('token.window')).toMatchObject({ window_past: null, window_future: null });
    expect(before('token.resync')).toBeNull(); // never used: no state yet
    expect(JSON.parse(audit.list({ action: 'token.resync' })[0]!.after!)).toMatchObject({ last_step: step + 3, drift: 3 });
    expect(before('token.reset-replay')).toEqual({ token_id: token.id, last_step: step + 3, drift: 3 });
    expect(before('token.remove')).toMatchObject({ id: token.id, window_past: 0, window_future: 3 });
    expect(before('hardware.unassign')).toMatchObject({ serial: 'HW-9', assigned_to: 'bob' });
    expect(before('hardware.remove')).toMatchObject({ serial: 'HW-9', model: 'c200', token_id: null });
    expect(before('user.disable')).toMatchObject({ username: 'bob', status: 'active' });
    expect(before('user.enable')).toMatchObject({ username: 'bob', status: 'disabled' });
    expect(before('user.unlock')).toEqual({ failures: 0, locked_until: null });
    const everything = JSON.stringify(audit.list());
    expect(everything).not.toContain('GEZDGNBVGY3TQOJQ');
    expect(everything).not.toContain('3132333435363738393031323334353637383930');
  });

  it('filters by admin, action prefix and target, and exports CSV that spreadsheets cannot run', async () => {
    audit.record(ADMIN, 'user.add', 'carol');
    audit.record({ name: 'root', source: 'cli' }, 'client.add', '=cmd|calc');
    expect(audit.list({ actor: 'root' }).map((e) => e.target)).toEqual(['=cmd|calc']);
    expect(audit.list({ action: 'user.' }).map((e) => e.target)).toEqual(['carol']);
    const csv = AdminAuditService.csv(audit.list());
    expect(csv.split('\r\n')[0]).toBe('time,actor,source,action,target,before,after,details');
    expect(csv).toContain(",'=cmd|calc,");
  });

  it('keeps every column bounded: a 2 MB name typed at a sign-in page is stored cut, and an over-long record as a summary', () => {
    const huge = 'é'.repeat(1024 * 1024);
    audit.record({ name: huge, source: huge }, `admin.${huge}`, huge, { before: { blob: huge }, after: { ok: true }, details: { reason: huge } });
    const [entry] = audit.list();
    for (const text of [entry!.actor, entry!.source, entry!.action, entry!.target]) {
      expect(Buffer.byteLength(text)).toBeLessThanOrEqual(AUDIT_TEXT_MAX_BYTES);
      expect(text).toMatch(/^(admin\.)?é+…$/);
    }
    for (const json of [entry!.before, entry!.details]) {
      expect(Buffer.byteLength(json!)).toBeLessThanOrEqual(AUDIT_JSON_MAX_BYTES);
      expect(JSON.parse(json!)).toMatchObject({ truncated: true, bytes: expect.any(Number), start: expect.stringMatching(/^\{"(blob|reason)":"é+…$/) });
    }
    expect(JSON.parse(entry!.after!)).toEqual({ ok: true });
    // short values are kept whole
    expect(clipText('alice', AUDIT_TEXT_MAX_BYTES)).toBe('alice');
    expect(clipText('a'.repeat(AUDIT_TEXT_MAX_BYTES), AUDIT_TEXT_MAX_BYTES)).toHaveLength(AUDIT_TEXT_MAX_BYTES);
  });

  it('strips secrets at any depth', () => {
    expect(withoutSecrets({ a: { password: 'x', nested: [{ client_secret: 's', keep: 1 }] }, secret: '' })).toEqual({
      a: { password: '(set)', nested: [{ client_secret: '(set)', keep: 1 }] },
      secret: '(none)',
    });
  });
});
