/**
 * The account rules shared by RADIUS logins and the self-service portal: blocked accounts, password-only
 * exceptions, the initial-login allowance, and matching a code against a user's tokens.
 */
import type { AccountList, RejectReason, Settings } from '@otpgate/shared';
import { verifyCode, type OtpToken } from '../otp/verify.js';
import type { AuthRequest, AuthUser } from './types.js';

/** `repeat`: the step was used by this very request (a retransmission worked on again): answer as before. */
export type CodeMatch = { token: OtpToken; step: number; drift: number; repeat?: boolean };

export function accountBlock(user: Pick<AuthUser, 'status' | 'lockedUntil'>, now: number): Extract<RejectReason, 'disabled' | 'locked'> | undefined {
  if (user.status === 'disabled') return 'disabled';
  if (user.lockedUntil !== null && user.lockedUntil > now) return 'locked';
  return undefined;
}

/** Whether a settings list names the user, or one of their otpgate groups (case-insensitive). */
export function listsAccount(list: AccountList, user: Pick<AuthUser, 'username' | 'groups'>): boolean {
  // asked on every request (passkeys.required, auth.single_factor), and the lists are mostly empty
  if (list.users.length === 0 && list.groups.length === 0) return false;
  if (list.users.some((u) => u.toLowerCase() === user.username.toLowerCase())) return true;
  const groups = new Set(list.groups.map((g) => g.toLowerCase()));
  return user.groups.some((g) => groups.has(g.toLowerCase()));
}

export function singleFactorAllowed(user: AuthUser, request: AuthRequest, settings: Settings): boolean {
  return request.client.singleFactor || listsAccount(settings.auth.single_factor, user);
}

/** The ways a user may sign in to the portal with a passkey (settings.passkeys): one of them, or either. */
export type PasskeySignInMode = 'passwordless' | 'second-factor' | 'either';

export function passkeySignInMode(user: Pick<AuthUser, 'username' | 'groups'>, settings: Settings): PasskeySignInMode {
  if (listsAccount(settings.passkeys.second_factor, user)) return 'second-factor';
  return listsAccount(settings.passkeys.passwordless, user) ? 'passwordless' : 'either';
}

/** Whether the account reaches the VPN with a passkey only (settings.passkeys.required). */
export function passkeyRequired(user: Pick<AuthUser, 'username' | 'groups'>, settings: Settings): boolean {
  return listsAccount(settings.passkeys.required, user);
}

/** Password-only logins to enrol: an admin's deadline for this user, else the global allowance for new users. */
export function initialLoginOpen(user: Pick<AuthUser, 'initialLoginUntil' | 'hasDisabledTokens' | 'createdAt'>, settings: Settings, now: number): boolean {
  if (user.initialLoginUntil !== null) return user.initialLoginUntil > now;
  if (user.hasDisabledTokens) return false;
  const allowance = settings.auth.initial_login;
  return allowance.enabled && now < user.createdAt + allowance.days * 86_400_000;
}

/**
 * Try a code on every active token of its length; a match beats a replay, a replay beats nothing. A replay of the
 * step this same request (`requestKey`) used is its repeat, not a replay.
 */
export function matchCode(user: AuthUser, code: string, now: number, settings: Settings, requestKey?: string): CodeMatch | 'replay' | 'no-match' {
  let replay: CodeMatch | 'replay' | undefined;
  for (const token of user.tokens) {
    if (token.digits !== code.length) continue;
    const check = verifyCode(token, code, now, { hotpWindow: settings.otp.hotp_window });
    if (check.result === 'match') return { token, step: check.step, drift: check.drift };
    if (check.result !== 'replay') continue;
    const repeat = requestKey !== undefined && check.step === token.lastStep && token.usedBy === requestKey;
    if (repeat) replay = { token, step: check.step, drift: token.drift, repeat: true };
    else replay ??= 'replay';
  }
  return replay ?? 'no-match';
}
