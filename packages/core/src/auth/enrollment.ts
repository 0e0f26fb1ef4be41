/**
 * Signing in to the self-service enrollment portal: the password through the same backend chain as RADIUS, the same
 * lockout counter, and the enrolment rules. A user without a token needs the initial-login allowance; a user with one
 * must add a current code (consumed like a RADIUS login), and only where the admin allows more than one token.
 *
 * A refusal tells the caller why, for the log; the portal shows every one alike, so a right password learns no more
 * than a wrong one. Refusals made before the password is checked spend the same argon2id work as a check, so the
 * time taken does not tell who exists, is disabled or has a token either.
 */
import type { RejectReason, Settings } from '@otpgate/shared';
import { verifyPasswordHash } from '../backends/local.js';
import { resolveName } from './realms.js';
import { accountBlock, initialLoginOpen, matchCode } from './policy.js';
import type { AuthPorts, AuthUser } from './types.js';

/** What the enrolment rules look at: read at sign-in, and again inside the write that adds the token. */
export type EnrolmentState = Pick<AuthUser, 'id' | 'status' | 'lockedUntil' | 'initialLoginUntil' | 'hasDisabledTokens' | 'createdAt'> & {
  /** The user's active tokens. */
  tokens: ReadonlyArray<{ id: number }>;
};

/** What a portal sign-in allowed: a first token, or one more (proven with a code), for the user as they were then. */
export interface EnrolmentGrant {
  userId: number;
  tokenIds: number[];
  additional: boolean;
}

export type EnrolmentRefusal = Extract<RejectReason, 'disabled' | 'locked'> | 'has-token' | 'allowance-over';

export type PortalSignIn =
  | { ok: true; user: AuthUser; grant: EnrolmentGrant }
  | { ok: false; reason: RejectReason | EnrolmentRefusal | 'code-required'; user?: AuthUser; detail?: string };

/** The enrolment rules alone (no password, no code): may this user add a token now, and is it an additional one? */
export function enrolmentRule(user: EnrolmentState, settings: Settings, now: number): { additional: boolean } | { refused: EnrolmentRefusal } {
  const blocked = accountBlock(user, now);
  if (blocked) return { refused: blocked };
  const additional = user.tokens.length > 0;
  if (additional && !settings.enrollment.allow_additional_tokens) return { refused: 'has-token' };
  if (!additional && !initialLoginOpen(user, settings, now)) return { refused: 'allowance-over' };
  return { additional };
}

/**
 * Why a sign-in's grant no longer holds (undefined while it does): the same user, with the same active tokens, and the
 * rules still allow it. Another session that added a token meanwhile changes the tokens, so it ends this grant too.
 */
export function grantRefusal(grant: EnrolmentGrant, current: EnrolmentState, settings: Settings, now: number): EnrolmentRefusal | 'account-changed' | undefined {
  const ids = current.tokens.map((t) => t.id).sort((a, b) => a - b);
  const granted = [...grant.tokenIds].sort((a, b) => a - b);
  if (current.id !== grant.userId || ids.length !== granted.length || ids.some((id, i) => id !== granted[i])) return 'account-changed';
  const rule = enrolmentRule(current, settings, now);
  return 'refused' in rule ? rule.refused : undefined;
}

export async function portalSignIn(input: { username: string; password: string; code: string }, ports: AuthPorts): Promise<PortalSignIn> {
  // nothing to check without a password, whatever the name
  if (input.password === '') return { ok: false, reason: 'missing-password' };
  const settings = ports.settings();
  const now = ports.now();
  const beforePassword = async (refusal: PortalSignIn): Promise<PortalSignIn> => {
    await verifyPasswordHash(undefined, input.password);
    return refusal;
  };
  const { username, realm } = resolveName(input.username, settings.auth.realms);
  const user = ports.findUser(username);
  if (!user) return beforePassword({ ok: false, reason: 'unknown-user' });
  const blocked = accountBlock(user, now);
  if (blocked) return beforePassword({ ok: false, reason: blocked, user });
  const chain = ports.passwords(realm && realm.backends.length > 0 ? realm.backends : settings.auth.backends);

  const wantsAnother = user.tokens.length > 0 && settings.enrollment.allow_additional_tokens;
  if (wantsAnother && input.code === '') return beforePassword({ ok: false, reason: 'code-required', user });
  // with a token, the cheap code goes first (as for RADIUS); without one, only the right password learns more
  const match = wantsAnother ? matchCode(user, input.code, now, settings) : undefined;
  if (match === 'replay' || match === 'no-match') {
    await ports.recordFailure(user);
    return beforePassword({ ok: false, reason: match === 'replay' ? 'replay' : 'bad-code', user });
  }
  const result = await chain.verify(user, input.password);
  // as for RADIUS: a backend that cannot answer leaves the code unused; a definite answer uses it up either way
  if (result.outcome === 'error') return { ok: false, reason: 'backend-error', user, detail: result.detail };
  const use = match ? await ports.consume(user, match.token, match.step, match.drift) : 'used';
  if (result.outcome === 'reject') {
    await ports.recordFailure(user);
    return { ok: false, reason: result.reason, user, detail: result.detail };
  }
  // the consume is a conditional write: another sign-in (or a RADIUS login) may have used this code first, or the
  // account been locked or disabled meanwhile
  if (use === 'replay' || use === 'repeat') {
    await ports.recordFailure(user);
    return { ok: false, reason: 'replay', user, detail: 'the code was used by another login at the same time' };
  }
  if (use !== 'used') return { ok: false, reason: use, user, detail: 'the account changed while signing in' };
  const rule = enrolmentRule(user, settings, now);
  if ('refused' in rule) return { ok: false, reason: rule.refused, user };
  if (user.failures > 0) await ports.recordSuccess(user);
  return { ok: true, user, grant: { userId: user.id, tokenIds: user.tokens.map((t) => t.id), additional: rule.additional } };
}
