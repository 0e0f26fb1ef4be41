import type { RejectReason } from '@otpgate/shared';
import { resolveName } from './realms.js';
import { accountBlock, initialLoginOpen, matchCode } from './policy.js';
import type { AuthPorts, AuthUser } from './types.js';

/**
 * Signing in to the self-service enrollment portal: the password through the same backend chain as RADIUS, the same
 * lockout counter, and the enrolment rules. A user without a token needs the initial-login allowance; a user with one
 * must add a current code (consumed like a RADIUS login), and only where the admin allows more than one token. Why
 * someone may not enrol is told only after the right password, so the portal does not reveal who has a token.
 */
export type PortalSignIn =
  | { ok: true; user: AuthUser; additional: boolean }
  | { ok: false; reason: RejectReason | 'allowance-over' | 'has-token' | 'code-required'; user?: AuthUser; detail?: string };

export async function portalSignIn(
  input: { username: string; password: string; code: string },
  ports: AuthPorts,
  options: { allowAdditionalTokens: boolean },
): Promise<PortalSignIn> {
  const settings = ports.settings();
  const { username, realm } = resolveName(input.username, settings.auth.realms);
  const user = ports.findUser(username);
  if (!user) return { ok: false, reason: 'unknown-user' };
  const blocked = accountBlock(user, ports.now());
  if (blocked) return { ok: false, reason: blocked, user };
  if (input.password === '') return { ok: false, reason: 'missing-password', user };
  const chain = ports.passwords(realm && realm.backends.length > 0 ? realm.backends : settings.auth.backends);

  const additional = user.tokens.length > 0;
  const wantsAnother = additional && options.allowAdditionalTokens;
  if (wantsAnother && input.code === '') return { ok: false, reason: 'code-required', user };
  // with a token, the cheap code goes first (as for RADIUS); without one, only the right password learns more
  const match = wantsAnother ? matchCode(user, input.code, ports.now(), settings) : undefined;
  if (match === 'replay' || match === 'no-match') {
    await ports.recordFailure(user);
    return { ok: false, reason: match === 'replay' ? 'replay' : 'bad-code', user };
  }
  const result = await chain.verify(user, input.password);
  // as for RADIUS: a backend that cannot answer leaves the code unused; a definite answer uses it up either way
  if (result.outcome === 'error') return { ok: false, reason: 'backend-error', user, detail: result.detail };
  if (match) await ports.consume(user, match.token, match.step, match.drift);
  if (result.outcome === 'reject') {
    await ports.recordFailure(user);
    return { ok: false, reason: result.reason, user, detail: result.detail };
  }
  if (additional && !wantsAnother) return { ok: false, reason: 'has-token', user };
  if (!additional && !initialLoginOpen(user, settings, ports.now())) return { ok: false, reason: 'allowance-over', user };
  if (user.failures > 0) await ports.recordSuccess(user);
  return { ok: true, user, additional };
}
