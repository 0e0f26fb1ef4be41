import argon2 from 'argon2';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { portalSignIn, type EnrolmentGrant } from '../src/auth/enrollment.js';
import { createAuthPorts } from '../src/auth/ports.js';
import type { AuthPorts } from '../src/auth/types.js';
import { BackendRegistry } from '../src/backends/registry.js';
import { createLogger } from '../src/logger.js';
import { Metrics } from '../src/metrics.js';
import { codeAt, timeStep } from '../src/otp/verify.js';
import { CLI_ACTOR } from '../src/services/context.js';
import { EnrolmentRefusedError, NotFoundError } from '@otpgate/shared';
import { SEED_HEX, createFixture, hotPath, type Fixture } from './store-fixture.js';

let f: Fixture;
let repo: ReturnType<typeof hotPath>;
let ports: AuthPorts;

beforeEach(async () => {
  f = await createFixture();
  f.services.settings.set('auth.initial_login', '{"enabled": true, "days": 7, "max_logins": 3}', CLI_ACTOR);
  repo = hotPath(f.store);
  const logger = createLogger('silent', 'test');
  const backends = new BackendRegistry(logger);
  backends.configure(f.store.settings());
  ports = createAuthPorts({ repository: repo, backends, metrics: new Metrics({ processMetrics: false }), logger, settings: () => f.store.settings() });
  await f.services.users.add({ username: 'newbie', password: 'newbie-password' }, CLI_ACTOR);
  await f.services.users.add({ username: 'holder', password: 'holder-password' }, CLI_ACTOR);
  f.services.tokens.add('holder', { secret: SEED_HEX }, CLI_ACTOR);
});
afterEach(() => {
  vi.restoreAllMocks();
  f.close();
});

const currentCode = () => {
  const token = repo.findUser('holder')!.tokens[0]!;
  return codeAt(token, timeStep(token, Date.now()));
};
const signIn = (username: string, password: string, code = '') => portalSignIn({ username, password, code }, ports);
const grantOf = async (username: string, password: string, code = ''): Promise<EnrolmentGrant> => {
  const outcome = await signIn(username, password, code);
  if (!outcome.ok) throw new Error(`${username} was refused: ${outcome.reason}`);
  return outcome.grant;
};
const enrol = (username: string, grant: EnrolmentGrant) => f.services.tokens.enrol(username, grant, { label: 'self-enrolled' }, CLI_ACTOR);
const refusal = (fn: () => unknown): string => {
  try {
    fn();
  } catch (err) {
    if (err instanceof EnrolmentRefusedError) return err.reason;
    throw err;
  }
  throw new Error('the token was added');
};

describe('portal sign-in', () => {
  it('signs in with one code once, however many sign-ins use it at the same moment', async () => {
    f.services.settings.set('enrollment.allow_additional_tokens', 'true', CLI_ACTOR);
    const code = currentCode();
    const outcomes = await Promise.all([signIn('holder', 'holder-password', code), signIn('holder', 'holder-password', code)]);
    expect(outcomes.map((o) => (o.ok ? 'ok' : o.reason)).sort()).toEqual(['ok', 'replay']);
  });

  it('spends one argon2id check on every refusal made before the password is looked at, as a wrong password does', async () => {
    f.services.settings.set('enrollment.allow_additional_tokens', 'true', CLI_ACTOR);
    await f.services.users.add({ username: 'gone', password: 'gone-password' }, CLI_ACTOR);
    f.services.users.setStatus('gone', 'disabled', CLI_ACTOR);
    const checks = vi.spyOn(argon2, 'verify');
    const cases = [
      ['newbie', 'wrong-password', '', 'bad-password'],
      ['nobody', 'some-password', '', 'unknown-user'],
      ['gone', 'gone-password', '', 'disabled'],
      ['holder', 'holder-password', '', 'code-required'],
      ['holder', 'holder-password', '000000' === currentCode() ? '111111' : '000000', 'bad-code'],
    ] as const;
    for (const [username, password, code, reason] of cases) {
      checks.mockClear();
      expect(await signIn(username, password, code)).toMatchObject({ ok: false, reason });
      expect(checks, reason).toHaveBeenCalledTimes(1);
    }
  });
});

describe('adding the token a portal sign-in allowed', () => {
  it('adds it while nothing changed, and refuses a second one from the same grant (another session added one)', async () => {
    const grant = await grantOf('newbie', 'newbie-password');
    const stale = await grantOf('newbie', 'newbie-password');
    expect(grant).toEqual({ userId: expect.any(Number), tokenIds: [], additional: false });
    enrol('newbie', grant);
    expect(refusal(() => enrol('newbie', stale))).toBe('account-changed');
    expect(f.services.tokens.list('newbie')).toHaveLength(1);
  });

  it('refuses it once the user is disabled, locked, past the allowance, or removed and made again', async () => {
    const grant = await grantOf('newbie', 'newbie-password');
    f.services.users.setStatus('newbie', 'disabled', CLI_ACTOR);
    expect(refusal(() => enrol('newbie', grant))).toBe('disabled');
    f.services.users.setStatus('newbie', 'active', CLI_ACTOR);

    f.services.settings.set('lockout.max_failures', '1', CLI_ACTOR);
    repo.recordFailure(repo.findUser('newbie')!);
    expect(refusal(() => enrol('newbie', grant))).toBe('locked');
    f.services.users.unlock('newbie', CLI_ACTOR);

    f.services.users.update('newbie', { initial_login_until: Date.now() - 1 }, CLI_ACTOR);
    expect(refusal(() => enrol('newbie', grant))).toBe('allowance-over');
    f.services.users.update('newbie', { initial_login_until: null }, CLI_ACTOR);

    f.services.users.remove('newbie', CLI_ACTOR);
    expect(() => enrol('newbie', grant)).toThrow(NotFoundError);
    await f.services.users.add({ username: 'newbie', password: 'newbie-password' }, CLI_ACTOR);
    expect(refusal(() => enrol('newbie', grant))).toBe('account-changed');
    expect(f.services.tokens.list('newbie')).toEqual([]);
  });

  it('refuses an additional token once additional tokens are no longer allowed, or the tokens it was proven with changed', async () => {
    f.services.settings.set('enrollment.allow_additional_tokens', 'true', CLI_ACTOR);
    const grant = await grantOf('holder', 'holder-password', currentCode());
    expect(grant).toMatchObject({ additional: true, tokenIds: [expect.any(Number)] });
    f.services.settings.set('enrollment.allow_additional_tokens', 'false', CLI_ACTOR);
    expect(refusal(() => enrol('holder', grant))).toBe('has-token');
    f.services.settings.set('enrollment.allow_additional_tokens', 'true', CLI_ACTOR);
    f.services.tokens.setActive(grant.tokenIds[0]!, false, CLI_ACTOR);
    expect(refusal(() => enrol('holder', grant))).toBe('account-changed');
    f.services.tokens.setActive(grant.tokenIds[0]!, true, CLI_ACTOR);
    enrol('holder', grant);
    expect(f.services.tokens.list('holder')).toHaveLength(2);
  });
});
