import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AuthRepository, BackendRegistry, CLI_ACTOR, authenticate, codeAt, createAuthPorts, createLogger, Metrics, readChanges, timeStep, type PasswordBackend } from '@otpgate/core';
import { SEED_HEX, createFixture, type Fixture } from './store-fixture.js';

let f: Fixture;
let repo: AuthRepository;
let tokenId: number;
const T0 = Date.UTC(2030, 0, 1);

beforeEach(async () => {
  f = await createFixture();
  repo = new AuthRepository(f.store, () => f.store.settings());
  await f.services.users.add({ username: 'alice' }, CLI_ACTOR);
  tokenId = f.services.tokens.add('alice', { secret: SEED_HEX }, CLI_ACTOR).token.id;
  // only the clock: the repository's group commit still runs on the real event loop
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(T0);
});
afterEach(() => {
  vi.useRealTimers();
  f.close();
});

const alice = () => repo.findUser('alice')!;
const aliceToken = () => alice().tokens[0]!;
const state = () => {
  const u = repo.findUser('alice')!;
  return { failures: u.failures, lockedUntil: u.lockedUntil };
};

describe('lockout', () => {
  it('locks on the 5th consecutive failure, for the configured time', async () => {
    for (let i = 1; i <= 4; i++) {
      expect(await repo.recordFailure(alice()), `failure ${i}`).toBe(false);
      expect(state()).toEqual({ failures: i, lockedUntil: null });
    }
    expect(await repo.recordFailure(alice())).toBe(true);
    expect(state()).toEqual({ failures: 5, lockedUntil: T0 + 900_000 });
    // more failures while locked neither extend the lock nor report a new one
    vi.setSystemTime(T0 + 1000);
    expect(await repo.recordFailure(alice())).toBe(false);
    expect(state()).toEqual({ failures: 6, lockedUntil: T0 + 900_000 });
  });

  it('the lock expires: the pipeline lets the user in again and the next failure starts a new count', async () => {
    for (let i = 0; i < 5; i++) await repo.recordFailure(alice());
    const password: PasswordBackend = { name: 'none', verify: () => Promise.resolve({ outcome: 'accept', backend: 'none' }) };
    const ports = { ...createAuthPorts({ repository: repo, backends: new BackendRegistry(createLogger('silent', 'test')), metrics: new Metrics({ processMetrics: false }), logger: createLogger('silent', 'test'), settings: () => f.store.settings() }), passwords: () => password };
    const key = repo.findUser('alice')!.tokens[0]!;
    const client = { name: 'nas', mode: null, backends: null, singleFactor: false };
    const attempt = () => authenticate({ username: 'alice', password: `pw${codeAt(key, timeStep(key, Date.now()))}`, state: undefined, client }, ports);
    expect(await attempt()).toMatchObject({ outcome: 'reject', reason: 'locked' });

    vi.setSystemTime(T0 + 900_000 - 1);
    expect(await attempt()).toMatchObject({ outcome: 'reject', reason: 'locked' });
    vi.setSystemTime(T0 + 900_000);
    expect(await repo.recordFailure(alice())).toBe(false);
    expect(state()).toEqual({ failures: 1, lockedUntil: null });
    expect(await attempt()).toMatchObject({ outcome: 'accept' });
    expect(state()).toEqual({ failures: 0, lockedUntil: null });
  });

  it('recordSuccess clears the count and the lock; an admin unlock does too', async () => {
    for (let i = 0; i < 3; i++) await repo.recordFailure(alice());
    await repo.recordSuccess(alice());
    expect(state()).toEqual({ failures: 0, lockedUntil: null });
    for (let i = 0; i < 5; i++) await repo.recordFailure(alice());
    expect(state().lockedUntil).toBe(T0 + 900_000);
    f.services.users.unlock('alice', CLI_ACTOR);
    expect(state()).toEqual({ failures: 0, lockedUntil: null });
  });

  it('follows the settings: max_failures 2, 60 s; max_failures 0 never locks', async () => {
    f.services.settings.set('lockout.max_failures', '2', CLI_ACTOR);
    f.services.settings.set('lockout.duration_seconds', '60', CLI_ACTOR);
    expect(await repo.recordFailure(alice())).toBe(false);
    expect(await repo.recordFailure(alice())).toBe(true);
    expect(state().lockedUntil).toBe(T0 + 60_000);
    await repo.recordSuccess(alice());
    f.services.settings.set('lockout.max_failures', '0', CLI_ACTOR);
    for (let i = 0; i < 20; i++) expect(await repo.recordFailure(alice())).toBe(false);
    expect(state()).toEqual({ failures: 20, lockedUntil: null });
  });
});

describe('users as loaded', () => {
  it('notes a user whose tokens are all disabled (no active token, but not a new user)', () => {
    expect(alice()).toMatchObject({ hasDisabledTokens: false });
    expect(alice().tokens).toHaveLength(1);
    f.services.tokens.setActive(tokenId, false, CLI_ACTOR);
    expect(alice().tokens).toHaveLength(0);
    expect(alice().hasDisabledTokens).toBe(true);
  });
});

describe('consume', () => {
  it('stores a step only when it moves forward, and logs it on a master that replicas follow', async () => {
    f.store.publishSteps = true;
    expect(await repo.consume(aliceToken(), 100, 1)).toBe(true);
    expect(await repo.consume(aliceToken(), 100, 1)).toBe(false);
    expect(await repo.consume(aliceToken(), 99, 0)).toBe(false);
    expect(await repo.consume(aliceToken(), 101, 2)).toBe(true);
    expect(repo.findUser('alice')!.tokens[0]).toMatchObject({ lastStep: 101, drift: 2 });
    const states = readChanges(f.store.db, f.store.sealKey, 0, 1000).filter((e) => e.entity === 'token_state');
    expect(states.map((e) => e.data)).toEqual([
      { token_id: tokenId, last_step: 100, drift: 1 },
      { token_id: tokenId, last_step: 101, drift: 2 },
    ]);
  });

  it('two consumes of one step in the same batch: exactly one wins', async () => {
    const t = aliceToken();
    const results = await Promise.all([repo.consume(t, 500, 0), repo.consume(t, 500, 0), repo.consume(t, 499, 0)]);
    expect(results).toEqual([true, false, false]);
  });

  it('on a replica, a step is stored but not logged', async () => {
    f.store.setRole('replica');
    const head = f.store.head();
    expect(await repo.consume(aliceToken(), 7, 0)).toBe(true);
    expect(repo.findUser('alice')!.tokens[0]!.lastStep).toBe(7);
    expect(f.store.head()).toEqual(head);
  });
});
