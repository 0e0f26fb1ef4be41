import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  BackendRegistry,
  CLI_ACTOR,
  Metrics,
  authenticate,
  claimVpnCredential,
  createAuthPorts,
  createLogger,
  looksLikeVpnPassword,
  vpnPasswordHash,
} from '../src/index.js';
import { pruneState } from '../src/store/state-housekeeping.js';
import type { Decision } from '../src/auth/types.js';
import { createFixture, hotPath, type Fixture } from './store-fixture.js';

let f: Fixture;
const T0 = Date.UTC(2030, 0, 1);
const logger = createLogger('silent', 'test');

beforeEach(async () => {
  f = await createFixture();
  await f.services.users.add({ username: 'alice' }, CLI_ACTOR);
  await f.services.users.add({ username: 'bob' }, CLI_ACTOR);
  f.services.clients.add({ name: 'nas1', address: '192.0.2.1', secret: 'a-long-enough-secret' }, CLI_ACTOR);
  f.services.clients.add({ name: 'nas2', address: '192.0.2.2', secret: 'a-long-enough-secret' }, CLI_ACTOR);
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(T0);
});
afterEach(() => {
  vi.useRealTimers();
  f.close();
});

/** The RADIUS pipeline on the master's store, as a RADIUS thread runs it. */
function radius(username: string, password: string, client = 'nas1', requestKey = `key-${Math.random()}`): Promise<Decision> {
  const ports = createAuthPorts({ repository: hotPath(f.store), backends: new BackendRegistry(logger), metrics: new Metrics({ processMetrics: false }), logger, settings: () => f.store.settings() });
  return authenticate({ username, password, state: undefined, requestKey, client: { name: client, mode: null, backends: null, singleFactor: false } }, ports);
}

const issue = (over: { username?: string; client?: string; ttlSeconds?: number } = {}) =>
  f.services.vpnCredentials.issue({ username: over.username ?? 'alice', client: over.client, ttlSeconds: over.ttlSeconds ?? 120, issuedBy: 'passkey' });

describe('one-time VPN credentials on the master', () => {
  it('a password is printable, at most 128 bytes, 120 random bits, and only its hash is stored', () => {
    const issued = issue();
    expect(issued.password).toMatch(/^vpn-[a-z2-7]{24}$/);
    expect(Buffer.byteLength(issued.password)).toBeLessThanOrEqual(128);
    expect(looksLikeVpnPassword(issued.password)).toBe(true);
    expect(issue().password).not.toBe(issued.password);
    const rows = f.store.state.sqlite.prepare('select * from vpn_credentials').all() as Array<Record<string, unknown>>;
    expect(rows).toHaveLength(2);
    expect(JSON.stringify(rows)).not.toContain(issued.password.slice(4));
    expect(rows.map((r) => r.hash)).toContain(vpnPasswordHash(issued.password));
  });

  it('RADIUS accepts it once, as its own policy with the issuing method, and a second use is a replay', async () => {
    const { password } = issue();
    expect(await radius('alice', password)).toMatchObject({ outcome: 'accept', policy: 'vpn-credential', backend: 'passkey' });
    expect(await radius('alice', password)).toMatchObject({ outcome: 'reject', reason: 'replay' });
  });

  it('a retransmission of the request that used it is accepted again; another request is not', async () => {
    const { password } = issue();
    expect(await radius('alice', password, 'nas1', 'same')).toMatchObject({ outcome: 'accept' });
    expect(await radius('alice', password, 'nas1', 'same')).toMatchObject({ outcome: 'accept' });
    expect(await radius('alice', password, 'nas1', 'other')).toMatchObject({ outcome: 'reject', reason: 'replay' });
  });

  it('expires: refused from its expiry on, never used', async () => {
    const { password } = issue({ ttlSeconds: 120 });
    vi.setSystemTime(T0 + 120_000);
    expect(await radius('alice', password)).toMatchObject({ outcome: 'reject', reason: 'credential-expired' });
  });

  it('is bound to its user and, when issued for one, to its RADIUS client; a wrong attempt does not spend it', async () => {
    const { password } = issue({ client: 'nas1' });
    expect(await radius('bob', password)).toMatchObject({ outcome: 'reject', reason: 'bad-password' });
    expect(await radius('alice', password, 'nas2')).toMatchObject({ outcome: 'reject', reason: 'not-permitted' });
    expect(await radius('alice', password, 'nas1')).toMatchObject({ outcome: 'accept' });
  });

  it('a user disabled after it was issued cannot use it', async () => {
    const { password } = issue();
    f.services.users.setStatus('alice', 'disabled', CLI_ACTOR);
    expect(await radius('alice', password)).toMatchObject({ outcome: 'reject', reason: 'disabled' });
  });

  it('is refused for a disabled user, an unknown client, and a lifetime out of range', () => {
    f.services.users.setStatus('bob', 'disabled', CLI_ACTOR);
    expect(() => issue({ username: 'bob' })).toThrow(/disabled/);
    expect(() => issue({ client: 'nope' })).toThrow(/client "nope" does not exist/);
    expect(() => issue({ ttlSeconds: 0 })).toThrow(/1 to 3600/);
  });

  it('a user holds at most ten live credentials: issuing more drops the oldest', async () => {
    const first = issue();
    const later = [];
    for (let i = 0; i < 10; i++) {
      vi.setSystemTime(T0 + i + 1);
      later.push(issue());
    }
    expect(f.store.state.sqlite.prepare('select count(*) from vpn_credentials').pluck().get()).toBe(10);
    // gone: taken as an ordinary password (alice has no token)
    expect(await radius('alice', first.password)).toMatchObject({ outcome: 'reject', reason: 'no-token' });
    expect(await radius('alice', later[0]!.password)).toMatchObject({ outcome: 'accept' });
  });

  it('housekeeping removes credentials a day past their expiry', async () => {
    issue();
    await pruneState(f.store, T0 + 120_000 + 24 * 3600_000 - 1);
    expect(f.store.state.sqlite.prepare('select count(*) from vpn_credentials').pluck().get()).toBe(1);
    const result = await pruneState(f.store, T0 + 120_000 + 24 * 3600_000);
    expect(result.vpnCredentials).toBe(1);
    expect(f.store.state.sqlite.prepare('select count(*) from vpn_credentials').pluck().get()).toBe(0);
  });
});

describe("a replica's use at the master (POST /v1/vpn-credentials/use)", () => {
  const claim = (password: string, over: Record<string, unknown> = {}) => ({
    hash: vpnPasswordHash(password),
    user_id: f.services.users.get('alice').id,
    client: 'nas1',
    request_key: 'r1',
    ...over,
  });

  it('exactly one use in the cluster: the master itself after a replica gets a replay, a retransmission on the replica the same answer', async () => {
    const { password } = issue();
    expect(claimVpnCredential(f.store, 'replica-1', claim(password))).toEqual({ use: 'used', issued_by: 'passkey' });
    expect(claimVpnCredential(f.store, 'replica-1', claim(password))).toEqual({ use: 'repeat', issued_by: 'passkey' });
    expect(claimVpnCredential(f.store, 'replica-2', claim(password))).toEqual({ use: 'spent' });
    expect(await radius('alice', password)).toMatchObject({ outcome: 'reject', reason: 'replay' });
  });

  it('answers unknown for a password that is no credential, and refuses a malformed claim', () => {
    expect(claimVpnCredential(f.store, 'replica-1', claim('vpn-aaaaaaaaaaaaaaaaaaaaaaaa'))).toEqual({ use: 'unknown' });
    expect(() => claimVpnCredential(f.store, 'replica-1', { ...claim('x'), hash: 'not-hex' })).toThrow(/VPN credential claim/);
  });

  it('the master reads the lock of the account as it holds it', async () => {
    const { password } = issue();
    const user = hotPath(f.store).findUser('alice')!;
    for (let i = 0; i < 5; i++) hotPath(f.store).recordFailure(user);
    expect(claimVpnCredential(f.store, 'replica-1', claim(password))).toEqual({ use: 'locked' });
  });
});
