import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Notice } from '@otpgate/shared';
import { AdminAuditService, CLI_ACTOR, PushService, PushTable, claimPush, createLogger, pushDecisions } from '../src/index.js';
import { pruneState } from '../src/store/state-housekeeping.js';
import { createFixture, type Fixture } from './store-fixture.js';

let f: Fixture;
let audit: AdminAuditService;
let table: PushTable;
let service: PushService;
let notices: Notice[];
let alice: number;
const T0 = Date.UTC(2030, 0, 1);
const logger = createLogger('silent', 'test');
const LIMITS = { timeoutMs: 25_000, perMinute: 3 };
const push = (n: number, userId = alice) => ({ request_key: `nas1|auth${n}|${userId}`, user_id: userId, username: 'alice', client: 'nas1', client_address: '192.0.2.1' });
const actions = () => audit.list({ action: 'push.' }).map((e) => e.action).reverse();

beforeEach(async () => {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(T0);
  f = await createFixture();
  alice = (await f.services.users.add({ username: 'alice' }, CLI_ACTOR)).id;
  audit = new AdminAuditService(f.store, logger);
  table = new PushTable(f.store.state);
  notices = [];
  service = new PushService({ store: f.store, logger, audit, notifier: { send: async (n) => void notices.push(n) }, portalUrl: 'https://vpn.example.test:9443' });
});
afterEach(() => {
  vi.useRealTimers();
  f.close();
});

describe('the master keeps pushes', () => {
  it('one push per request key, however often it is asked for: a retransmission on any node finds the first', () => {
    const first = table.create(push(1), LIMITS);
    const again = table.create(push(1), LIMITS);
    expect(first).toMatchObject({ status: 'pending', expires_at: T0 + 25_000 });
    expect(again).toEqual(first);
  });

  it('at most max_per_user_per_minute new pushes a user a minute, then again after the minute', () => {
    for (let n = 0; n < 3; n++) expect(table.create(push(n), LIMITS)).toHaveProperty('id');
    expect(table.create(push(3), LIMITS)).toEqual({ refused: 'rate-limited' });
    vi.setSystemTime(T0 + 60_001);
    expect(table.create(push(4), LIMITS)).toHaveProperty('id');
  });

  it('a locked account gets no push', () => {
    f.store.state.prepare('insert into auth_state (user_id, failures, locked_until, updated_at) values (?, 5, ?, ?)').run(alice, T0 + 60_000, T0);
    expect(table.create(push(1), LIMITS)).toEqual({ refused: 'locked' });
  });

  it('the notice goes out once per new push, with the approval link and no secret; created is audited', async () => {
    const made = table.create(push(1), LIMITS);
    service.tick();
    service.tick();
    await Promise.resolve();
    expect(notices).toHaveLength(1);
    const id = 'id' in made ? made.id : '';
    expect(notices[0]).toMatchObject({ kind: 'push', user: 'alice', client: 'nas1', clientAddress: '192.0.2.1', approveUrl: `https://vpn.example.test:9443/account/push/${id}` });
    expect(actions()).toEqual(['push.created']);
  });

  it('an approval is recorded once, only by its user, and shows in the decisions asked for', () => {
    const made = table.create(push(1), LIMITS);
    const id = 'id' in made ? made.id : '';
    expect(service.find(id, alice + 1)).toBeUndefined();
    expect(() => service.decide(id, alice + 1, 'approved', '198.51.100.7')).toThrow(/no such login/);
    expect(service.decide(id, alice, 'approved', '198.51.100.7').status).toBe('approved');
    expect(() => service.decide(id, alice, 'denied', '198.51.100.7')).toThrow(/answered already/);
    expect(pushDecisions(f.store, { since: T0 - 2000 }).decisions).toEqual([{ id, status: 'approved', decided_at: T0 }]);
    expect(actions()).toEqual(['push.approved']);
  });

  it('a push past its time cannot be approved; the service times it out and audits it', () => {
    const made = table.create(push(1), LIMITS);
    const id = 'id' in made ? made.id : '';
    vi.setSystemTime(T0 + 25_000);
    expect(() => service.decide(id, alice, 'approved', '198.51.100.7')).toThrow(/waited too long/);
    service.tick();
    expect(table.get(id)?.status).toBe('timeout');
    expect(actions()).toContain('push.timed-out');
  });

  it('"this wasn\'t me" locks the account in the same transaction, alerts, and is audited', async () => {
    const made = table.create(push(1), LIMITS);
    const id = 'id' in made ? made.id : '';
    service.decide(id, alice, 'not-me', '198.51.100.7');
    await Promise.resolve();
    const lock = f.store.state.prepare('select locked_until, lock_published from auth_state where user_id = ?').get(alice) as { locked_until: number; lock_published: number };
    expect(lock.locked_until).toBeGreaterThan(T0 + 300 * 86_400_000);
    expect(lock.lock_published).toBe(0);
    expect(notices).toEqual([expect.objectContaining({ kind: 'alert', user: 'alice', reason: 'not-me', client: 'nas1' })]);
    expect(actions()).toEqual(['push.not-me']);
    expect(table.create(push(2), LIMITS)).toEqual({ refused: 'locked' });
  });

  it('a replica\'s push names the user from the master\'s store; a disabled user gets none', () => {
    const made = claimPush(f.store, { request_key: 'r|1', user_id: alice, client: 'nas1', client_address: '192.0.2.9', number: '42' });
    expect(made).toMatchObject({ status: 'pending' });
    expect(table.get('id' in made ? made.id : '')).toMatchObject({ username: 'alice', number: '42' });
    f.services.users.setStatus('alice', 'disabled', CLI_ACTOR);
    expect(claimPush(f.store, { request_key: 'r|2', user_id: alice, client: 'nas1', client_address: '192.0.2.9' })).toEqual({ refused: 'disabled' });
    expect(() => claimPush(f.store, { request_key: 'r|3', user_id: alice, client: 'nas1', client_address: '192.0.2.9', number: '7' })).toThrow();
  });

  it('pushes go a week after they were made (retention)', async () => {
    table.create(push(1), LIMITS);
    expect((await pruneState(f.store, T0 + 6 * 86_400_000)).pushes).toBe(0);
    expect((await pruneState(f.store, T0 + 7 * 86_400_000)).pushes).toBe(1);
  });
});
