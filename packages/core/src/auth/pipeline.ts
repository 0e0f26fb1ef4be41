import type { AuthMode, RejectReason } from '@otpgate/shared';
import { verifyCode, type OtpToken } from '../otp/verify.js';
import type { PasswordResult } from '../backends/backend.js';
import { splitCandidates } from './password-split.js';
import type { AuthPorts, AuthRequest, AuthUser, Decision } from './types.js';

/**
 * The authentication decision: a pure function of the request and the ports it is given (no sockets, no SQL), so
 * every node runs the same code and tests drive it with plain objects.
 *
 * Default order is code first: the one-time code is cheap to check, the password (argon2id or a directory bind) is
 * not, and a directory counts failed binds toward its own lockout. Guesses without a valid code then cost almost
 * nothing and cannot lock anyone out of Active Directory; an unknown user and a wrong code take the same short path.
 */
export async function authenticate(request: AuthRequest, ports: AuthPorts): Promise<Decision> {
  if (request.state) return answerChallenge(request, request.state, ports);

  const user = ports.findUser(request.username);
  if (!user) return reject('unknown-user');
  const blocked = accountBlock(user, ports.now());
  if (blocked) return reject(blocked, user);
  if (user.tokens.length === 0) return reject('no-token', user, undefined, 'the user has no active token');

  const mode: AuthMode = user.authMode ?? request.clientMode ?? ports.settings().auth.default_mode;
  switch (mode) {
    case 'code-only':
      return codeOnly(user, request.password, ports);
    case 'challenge':
      return passwordThenChallenge(user, request.password, ports);
    case 'inline':
      return ports.settings().auth.check_order === 'password-first'
        ? inlinePasswordFirst(user, request.password, ports)
        : inlineCodeFirst(user, request.password, ports);
  }
}

function reject(reason: RejectReason, user?: AuthUser, backend?: string, detail?: string): Decision {
  return { outcome: 'reject', reason, user, backend, detail };
}

function accountBlock(user: AuthUser, now: number): RejectReason | undefined {
  if (user.status === 'disabled') return 'disabled';
  if (user.lockedUntil !== null && user.lockedUntil > now) return 'locked';
  return undefined;
}

type CodeMatch = { token: OtpToken; step: number; drift: number };

/** Try a code on every active token of its length; a match beats a replay, a replay beats nothing. */
function matchCode(user: AuthUser, code: string, ports: AuthPorts): CodeMatch | 'replay' | 'no-match' {
  const otp = ports.settings().otp;
  let replay = false;
  for (const token of user.tokens) {
    if (token.digits !== code.length) continue;
    const check = verifyCode(token, code, ports.now(), { hotpWindow: otp.hotp_window });
    if (check.result === 'match') return { token, step: check.step, drift: check.drift };
    if (check.result === 'replay') replay = true;
  }
  return replay ? 'replay' : 'no-match';
}

async function fail(user: AuthUser, reason: RejectReason, ports: AuthPorts, backend?: string, detail?: string): Promise<Decision> {
  await ports.recordFailure(user);
  return reject(reason, user, backend, detail);
}

async function succeed(user: AuthUser, ports: AuthPorts, backend?: string): Promise<Decision> {
  if (user.failures > 0) await ports.recordSuccess(user);
  return { outcome: 'accept', user, backend };
}

function codeFailure(result: 'replay' | 'no-match'): RejectReason {
  return result === 'replay' ? 'replay' : 'bad-code';
}

/** Consume the matched step; losing the race to a concurrent request with the same code is a replay. */
async function consumeAndAccept(user: AuthUser, match: CodeMatch, ports: AuthPorts, backend?: string): Promise<Decision> {
  if (!(await ports.consume(user, match.token, match.step, match.drift))) return fail(user, 'replay', ports, backend);
  return succeed(user, ports, backend);
}

async function codeOnly(user: AuthUser, input: string, ports: AuthPorts): Promise<Decision> {
  const match = matchCode(user, input, ports);
  if (typeof match === 'string') return fail(user, codeFailure(match), ports);
  return consumeAndAccept(user, match, ports);
}

function passwordFailure(user: AuthUser, result: Exclude<PasswordResult, { outcome: 'accept' }>, ports: AuthPorts): Promise<Decision> {
  // a backend that cannot answer is not the user's fault: no failure counted
  if (result.outcome === 'error') return Promise.resolve(reject('backend-error', user, result.backend, result.detail));
  return fail(user, result.reason, ports, result.backend, result.detail);
}

async function inlineCodeFirst(user: AuthUser, input: string, ports: AuthPorts): Promise<Decision> {
  const candidates = splitCandidates(input, user.tokens.map((t) => t.digits));
  let failure: 'replay' | 'no-match' = 'no-match';
  for (const candidate of candidates) {
    const match = matchCode(user, candidate.code, ports);
    if (match === 'replay') failure = 'replay';
    if (typeof match === 'string') continue;
    if (candidate.password === '') {
      await ports.consume(user, match.token, match.step, match.drift);
      return fail(user, 'missing-password', ports, undefined, 'only a code was given; this account needs password+code');
    }
    const result = await ports.password.verify(user, candidate.password);
    if (result.outcome === 'error') return passwordFailure(user, result, ports);
    // consume the code whether the password was right or not: a stolen code buys one password guess, not many
    if (result.outcome === 'reject') {
      await ports.consume(user, match.token, match.step, match.drift);
      return passwordFailure(user, result, ports);
    }
    return consumeAndAccept(user, match, ports, result.backend);
  }
  const detail = candidates.length === 0 ? 'no trailing one-time code in the password' : undefined;
  return fail(user, codeFailure(failure), ports, undefined, detail);
}

async function inlinePasswordFirst(user: AuthUser, input: string, ports: AuthPorts): Promise<Decision> {
  const candidates = splitCandidates(input, user.tokens.map((t) => t.digits));
  if (candidates.length === 0) return fail(user, 'bad-code', ports, undefined, 'no trailing one-time code in the password');
  let rejected: Exclude<PasswordResult, { outcome: 'accept' }> | undefined;
  for (const candidate of candidates) {
    if (candidate.password === '') continue;
    const result = await ports.password.verify(user, candidate.password);
    if (result.outcome === 'error') return passwordFailure(user, result, ports);
    if (result.outcome === 'reject') {
      rejected = result;
      continue;
    }
    const match = matchCode(user, candidate.code, ports);
    if (typeof match === 'string') return fail(user, codeFailure(match), ports, result.backend);
    return consumeAndAccept(user, match, ports, result.backend);
  }
  if (!rejected) return fail(user, 'missing-password', ports, undefined, 'only a code was given; this account needs password+code');
  return passwordFailure(user, rejected, ports);
}

async function passwordThenChallenge(user: AuthUser, input: string, ports: AuthPorts): Promise<Decision> {
  if (input === '') return fail(user, 'missing-password', ports);
  const result = await ports.password.verify(user, input);
  if (result.outcome !== 'accept') return passwordFailure(user, result, ports);
  const auth = ports.settings().auth;
  const state = ports.challenges.create(user.id, user.username, auth.challenge_timeout_seconds);
  return { outcome: 'challenge', user, state, prompt: auth.challenge_prompt, backend: result.backend };
}

async function answerChallenge(request: AuthRequest, state: Buffer, ports: AuthPorts): Promise<Decision> {
  const pending = ports.challenges.take(state);
  if (!pending) return reject('challenge-expired');
  const user = ports.findUser(pending.username);
  if (!user || user.id !== pending.userId || user.username.toLowerCase() !== request.username.toLowerCase()) {
    return reject('challenge-expired', user, undefined, 'the answer names a different user than the challenge');
  }
  const blocked = accountBlock(user, ports.now());
  if (blocked) return reject(blocked, user);
  const match = matchCode(user, request.password, ports);
  if (typeof match === 'string') return fail(user, codeFailure(match), ports);
  return consumeAndAccept(user, match, ports);
}
