import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { authenticate } from '../src/auth/pipeline.js';
import { createAuthPorts } from '../src/auth/ports.js';
import type { PasswordBackend } from '../src/backends/backend.js';
import { BackendRegistry } from '../src/backends/registry.js';
import { createLogger } from '../src/logger.js';
import { Metrics } from '../src/metrics.js';
import { codeAt, timeStep } from '../src/otp/verify.js';
import { CLI_ACTOR } from '../src/services/context.js';
import { readChanges } from '../src/store/change-log.js';
import { publishSteps } from '../src/store/token-state.js';
import { SEED_HEX, createFixture, type Fixture, hotPath } from './store-fixture.js';

let f: Fixture;
let repo: ReturnType<typeof hotPath>;
let tokenId: number;
const T0 = Date.UTC(2030, 0, 1);

beforeEach(async () => {
  f = await createFixture();
  repo = hotPath(f.store);
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
      expect(repo.recordFailure(alice()), `failure ${i}`).toBe(false);
      expect(state()).toEqual({ failures: i, lockedUntil: null });
    }
    expect(repo.recordFailure(alice())).toBe(true);
    expect(state()).toEqual({ failures: 5, lockedUntil: T0 + 900_000 });
    // more failures while locked neither extend the lock nor report a new one
    vi.setSystemTime(T0 + 1000);
    expect(repo.recordFailure(alice())).toBe(false);
    expect(state()).toEqual({ failures: 6, lockedUntil: T0 + 900_000 });
  });

  it('the lock expires: the pipeline lets the user in again and the next failure starts a new count', async () => {
    for (let i = 0; i < 5; i++) repo.recordFailure(alice());
    const password: PasswordBackend = { name: 'none', verify: () => Promise.resolve({ outcome: 'accept', backend: 'none' }) };
    const ports = { ...createAuthPorts({ repository: repo, backends: new BackendRegistry(createLogger('silent', 'test')), metrics: new Metrics({ processMetrics: false }), logger: createLogger('silent', 'test'), settings: () => f.store.settings() }), passwords: () => password };
    const key = repo.findUser('alice')!.tokens[0]!;
    const client = { name: 'nas', mode: null, backends: null, singleFactor: false };
    const attempt = () => authenticate({ username: 'alice', password: `pw${codeAt(key, timeStep(key, Date.now()))}`, state: undefined, client }, ports);
    expect(await attempt()).toMatchObject({ outcome: 'reject', reason: 'locked' });

    vi.setSystemTime(T0 + 900_000 - 1);
    expect(await attempt()).toMatchObject({ outcome: 'reject', reason: 'locked' });
    vi.setSystemTime(T0 + 900_000);
    expect(repo.recordFailure(alice())).toBe(false);
    expect(state()).toEqual({ failures: 1, lockedUntil: null });
    expect(await attempt()).toMatchObject({ outcome: 'accept' });
    expect(state()).toEqual({ failures: 0, lockedUntil: null });
  });

  it('recordSuccess clears the count and the lock; an admin unlock does too', async () => {
    for (let i = 0; i < 3; i++) repo.recordFailure(alice());
    await repo.recordSuccess(alice());
    expect(state()).toEqual({ failures: 0, lockedUntil: null });
    for (let i = 0; i < 5; i++) repo.recordFailure(alice());
    expect(state().lockedUntil).toBe(T0 + 900_000);
    f.services.users.unlock('alice', CLI_ACTOR);
    // another connection's write: the hot path's reads see it from the next turn of the event loop
    await new Promise((resolve) => setImmediate(resolve));
    expect(state()).toEqual({ failures: 0, lockedUntil: null });
  });

  it('follows the settings: max_failures 2, 60 s; max_failures 0 never locks', async () => {
    f.services.settings.set('lockout.max_failures', '2', CLI_ACTOR);
    f.services.settings.set('lockout.duration_seconds', '60', CLI_ACTOR);
    expect(repo.recordFailure(alice())).toBe(false);
    expect(repo.recordFailure(alice())).toBe(true);
    expect(state().lockedUntil).toBe(T0 + 60_000);
    await repo.recordSuccess(alice());
    f.services.settings.set('lockout.max_failures', '0', CLI_ACTOR);
    for (let i = 0; i < 20; i++) expect(repo.recordFailure(alice())).toBe(false);
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
  const use = (step: number, drift = 0) => repo.useStep(alice(), aliceToken(), step, drift);

  it('stores a step only when it moves forward; a master that replicas follow publishes the steps used', async () => {
    f.store.publishSteps = true;
    expect(await use(100, 1)).toBe('used');
    expect(await use(100, 1)).toBe('replay');
    expect(await use(99)).toBe('replay');
    expect(publishSteps(f.store)).toBe(1);
    expect(await use(101, 2)).toBe('used');
    expect(repo.findUser('alice')!.tokens[0]).toMatchObject({ lastStep: 101, drift: 2 });
    expect(publishSteps(f.store)).toBe(1);
    expect(publishSteps(f.store)).toBe(0);
    const states = readChanges(f.store.db, f.store.sealKey, 0, 1000).filter((e) => e.entity === 'token_state');
    expect(states.map((e) => e.data)).toEqual([
      { token_id: tokenId, last_step: 100, drift: 1 },
      { token_id: tokenId, last_step: 101, drift: 2 },
    ]);
  });

  it('two consumes of one step in the same batch: exactly one wins', async () => {
    const t = aliceToken();
    const u = alice();
    const results = await Promise.all([repo.useStep(u, t, 500, 0), repo.useStep(u, t, 500, 0), repo.useStep(u, t, 499, 0)]);
    expect(results).toEqual(['used', 'replay', 'replay']);
  });

  it('on a replica, a step is stored but not logged', async () => {
    f.store.setRole('replica');
    const head = f.store.head();
    expect(await use(7)).toBe('used');
    expect(repo.findUser('alice')!.tokens[0]!.lastStep).toBe(7);
    expect(publishSteps(f.store)).toBe(0);
    expect(f.store.head()).toEqual(head);
  });

  it('refuses the step when the account was locked, the user disabled or the token disabled after the user was read', async () => {
    const u = alice();
    const t = aliceToken();
    for (let i = 0; i < 5; i++) repo.recordFailure(u);
    expect(await repo.useStep(u, t, 200, 0)).toBe('locked');
    f.services.users.unlock('alice', CLI_ACTOR);
    f.services.users.setStatus('alice', 'disabled', CLI_ACTOR);
    expect(await repo.useStep(u, t, 201, 0)).toBe('disabled');
    f.services.users.setStatus('alice', 'active', CLI_ACTOR);
    f.services.tokens.setActive(tokenId, false, CLI_ACTOR);
    expect(await repo.useStep(u, t, 202, 0)).toBe('no-token');
    expect(repo.findUser('alice')!.tokens).toEqual([]);
  });
});

describe('one request, two threads', () => {
  it('a retransmission worked on again by another thread (no duplicate cache) gets its Accept again; another request a replay', async () => {
    const other = hotPath(f.store);
    const key = '192.0.2.1|40000|7|00112233445566778899aabbccddeeff';
    expect(await repo.useStep(alice(), aliceToken(), 300, 0, key)).toBe('used');
    expect(await other.useStep(other.findUser('alice')!, aliceToken(), 300, 0, key)).toBe('repeat');
    expect(await other.useStep(other.findUser('alice')!, aliceToken(), 300, 0, '192.0.2.1|40001|7|ff')).toBe('replay');
    expect(await other.useStep(other.findUser('alice')!, aliceToken(), 300, 0)).toBe('replay');
  });

  it('a challenge made again for the same request has the same State; for another request, another', async () => {
    const other = hotPath(f.store);
    const pending = { userId: 1, username: 'alice', client: 'nas', backend: 'local', groups: [] };
    const a = await repo.createChallenge(pending, 60, 'k1');
    expect(await other.createChallenge(pending, 60, 'k1')).toEqual(a);
    expect(await other.createChallenge(pending, 60, 'k2')).not.toEqual(a);
    expect(await other.takeChallenge(a, 'nas')).toMatchObject({ username: 'alice' });
    expect(await repo.takeChallenge(a, 'nas')).toBeUndefined();
  });
});

describe('a burst of guesses', () => {
  it('meets the lock after max_failures, with the right code among them: no Accept (finding 3)', async () => {
    const ports = createAuthPorts({ repository: repo, backends: new BackendRegistry(createLogger('silent', 'test')), metrics: new Metrics({ processMetrics: false }), logger: createLogger('silent', 'test'), settings: () => f.store.settings() });
    f.services.settings.set('auth.default_mode', 'code-only', CLI_ACTOR);
    const key = aliceToken();
    const right = codeAt(key, timeStep(key, Date.now()));
    const wrong = right === '000000' ? '000001' : '000000';
    const client = { name: 'nas', mode: null, backends: null, singleFactor: false };
    // all started in one turn of the event loop, as one receive batch of datagrams is; the 10th carries the code
    const attempts = Array.from({ length: 120 }, (_, i) => authenticate({ username: 'alice', password: i === 9 ? right : wrong, state: undefined, client }, ports));
    const decisions = await Promise.all(attempts);
    expect(decisions.filter((d) => d.outcome === 'accept')).toEqual([]);
    expect(decisions[9]).toMatchObject({ outcome: 'reject', reason: 'locked' });
    expect(decisions.slice(0, 5).every((d) => d.outcome === 'reject' && d.reason === 'bad-code')).toBe(true);
    expect(state()).toMatchObject({ failures: 5, lockedUntil: T0 + 900_000 });
  });
});
