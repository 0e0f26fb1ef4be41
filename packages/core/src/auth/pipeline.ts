import type { AuthMode, RejectReason, Settings } from '@otpgate/shared';
import type { PasswordBackend, PasswordResult } from '../backends/backend.js';
import { splitCandidates } from './password-split.js';
import { resolveName } from './realms.js';
import { accountBlock, initialLoginOpen, matchCode, passkeyRequired, singleFactorAllowed, type CodeMatch } from './policy.js';
import { looksLikeVpnPassword } from '../vpn/vpn-password.js';
import { pushNumber, pushPassword, pushPrompt } from '../push/push-input.js';
import type { AcceptPolicy, AuthPorts, AuthRequest, AuthUser, Decision } from './types.js';

/**
 * The authentication decision: a pure function of the request and the ports it is given (no sockets, no SQL), so
 * every node runs the same code and tests drive it with plain objects.
 *
 * Default order is code first: the one-time code is cheap to check, the password (argon2id or a directory bind) is
 * not, and a directory counts failed binds toward its own lockout. Guesses without a valid code then cost almost
 * nothing and cannot lock anyone out of Active Directory; an unknown user and a wrong code take the same short path.
 */
export async function authenticate(request: AuthRequest, ports: AuthPorts): Promise<Decision> {
  const settings = ports.settings();
  const { username, realm } = resolveName(request.username, settings.auth.realms);
  const chainNames = realm && realm.backends.length > 0 ? realm.backends : (request.client.backends ?? settings.auth.backends);
  if (request.state) return answerChallenge(username, request, ports);

  const user = ports.findUser(username);
  if (!user) return unknownUser(request, settings, ports.passwords(chainNames));
  const blocked = accountBlock(user, ports.now());
  if (blocked) return reject(blocked, user);
  const flow: Flow = { user, ports, settings, chain: ports.passwords(chainNames), client: request.client.name, requestKey: request.requestKey, request };

  if (looksLikeVpnPassword(request.password)) {
    const decided = await vpnCredential(flow, request.password);
    if (decided) return decided;
  }
  const mode: AuthMode = user.authMode ?? request.client.mode ?? settings.auth.default_mode;
  // the account's way in is its passkey: a VPN password from a passkey sign-in (above), or a push approved with the key
  if (mode !== 'push' && passkeyRequired(user, settings)) {
    return reject('passkey-required', user, undefined, 'this account signs in with a passkey on the user portal (settings: passkeys.required)');
  }
  if (singleFactorAllowed(user, request, settings)) return passwordOnly(flow, request.password, 'single-factor');
  if (user.tokens.length === 0) {
    if (initialLoginOpen(user, settings, ports.now())) return passwordOnly(flow, request.password, 'initial-login');
    return reject('no-token', user, undefined, 'the user has no active token');
  }

  switch (mode) {
    case 'code-only':
      return codeOnly(flow, request.password);
    case 'challenge':
      return passwordThenChallenge(flow, request.password);
    case 'inline':
      return settings.auth.check_order === 'password-first' ? inlinePasswordFirst(flow, request.password) : inlineCodeFirst(flow, request.password);
    case 'push':
      return passwordThenPush(flow, request.password);
  }
}

/** One request's working set. */
interface Flow {
  user: AuthUser;
  ports: AuthPorts;
  settings: Settings;
  chain: PasswordBackend;
  /** The RADIUS client's name: a challenge is bound to it. */
  client: string;
  requestKey: string | undefined;
  request: AuthRequest;
}

/** A challenge answer carries the code only: its password was checked when the challenge was made. */
const PASSWORD_ALREADY_CHECKED: PasswordBackend = {
  name: 'none',
  verify: () => Promise.resolve({ outcome: 'error', backend: 'none', detail: 'no password is checked when a challenge is answered' }),
};

type PasswordRejection = Exclude<PasswordResult, { outcome: 'accept' }>;

function reject(reason: RejectReason, user?: AuthUser, backend?: string, detail?: string): Decision {
  return { outcome: 'reject', reason, user, backend, detail };
}

async function fail(flow: Flow, reason: RejectReason, backend?: string, detail?: string): Promise<Decision> {
  await flow.ports.recordFailure(flow.user);
  return reject(reason, flow.user, backend, detail);
}

async function succeed(flow: Flow, password?: Extract<PasswordResult, { outcome: 'accept' }>, policy?: AcceptPolicy): Promise<Decision> {
  if (flow.user.failures > 0) await flow.ports.recordSuccess(flow.user);
  const groups = [...new Set([...flow.user.groups, ...(password?.groups ?? [])])];
  return { outcome: 'accept', user: flow.user, backend: password?.backend, groups, policy };
}

function codeFailure(result: 'replay' | 'no-match'): RejectReason {
  return result === 'replay' ? 'replay' : 'bad-code';
}

/** A backend that cannot answer is not the user's fault: no failure is counted. */
function passwordFailure(flow: Flow, result: PasswordRejection): Promise<Decision> {
  if (result.outcome === 'error') {
    return Promise.resolve(reject(result.overloaded ? 'overloaded' : 'backend-error', flow.user, result.backend, result.detail));
  }
  return fail(flow, result.reason, result.backend, result.detail);
}

/**
 * Where a known user's request would check the password before any code (challenge mode, password-first), an unknown
 * name gets the same work done on a decoy, so the time to answer does not tell which names exist.
 */
async function unknownUser(request: AuthRequest, settings: Settings, chain: PasswordBackend): Promise<Decision> {
  const mode = request.client.mode ?? settings.auth.default_mode;
  if (mode === 'challenge' || mode === 'push' || (mode === 'inline' && settings.auth.check_order === 'password-first')) await chain.decoy?.(request.password);
  return reject('unknown-user');
}

/** After a slow password check: a concurrent request may have locked the account meanwhile. */
function lockedMeanwhile(flow: Flow): boolean {
  const until = flow.ports.lockedUntil(flow.user);
  return until !== null && until > flow.ports.now();
}

/**
 * Consume the matched step. The store decides, in the transaction that stores it: losing the race to a concurrent
 * request with the same code is a replay; a lock, a disabled user or token set meanwhile refuse it too.
 */
async function consumeAndAccept(flow: Flow, match: CodeMatch, password?: Extract<PasswordResult, { outcome: 'accept' }>): Promise<Decision> {
  const use = match.repeat ? 'repeat' : await flow.ports.consume(flow.user, match.token, match.step, match.drift, flow.requestKey);
  if (use === 'replay') return fail(flow, 'replay', password?.backend);
  if (use === 'locked' || use === 'disabled') return reject(use, flow.user, password?.backend, `the account was ${use === 'locked' ? 'locked' : 'disabled'} while this request was checked`);
  if (use === 'no-token') return reject('no-token', flow.user, password?.backend, 'the token was disabled or removed while this request was checked');
  if (use === 'unconfirmed') return reject('unconfirmed', flow.user, password?.backend, 'the master could not confirm that no other node used this code (cluster.replay_claim: strict)');
  return succeed(flow, password);
}

/**
 * A password of a one-time VPN credential's shape: the credential decides, used in the store's transaction (or at the
 * master, from a replica). Its backend in the log is how it was issued. A password of that shape that is no credential
 * goes on as an ordinary password (undefined).
 */
async function vpnCredential(flow: Flow, password: string): Promise<Decision | undefined> {
  const answer = await flow.ports.useVpnCredential(flow.user, password, flow.client, flow.requestKey);
  if (answer === 'unavailable') return reject('unconfirmed', flow.user, undefined, 'a one-time VPN credential is checked by the master, which did not answer');
  switch (answer.use) {
    case 'unknown':
      return undefined;
    case 'used':
    case 'repeat':
      return succeed(flow, { outcome: 'accept', backend: answer.issued_by ?? 'vpn-credential' }, 'vpn-credential');
    case 'spent':
      return fail(flow, 'replay', undefined, 'this one-time VPN credential was used already');
    case 'expired':
      return fail(flow, 'credential-expired');
    case 'other-client':
      return fail(flow, 'not-permitted', undefined, 'this one-time VPN credential was issued for another RADIUS client');
    case 'other-user':
      return fail(flow, 'bad-password', undefined, 'this one-time VPN credential was issued to another user');
    case 'locked':
    case 'disabled':
      return reject(answer.use, flow.user, undefined, `the account was ${answer.use} while this request was checked`);
  }
}

async function passwordOnly(flow: Flow, input: string, policy: 'single-factor' | 'initial-login'): Promise<Decision> {
  if (input === '') return fail(flow, 'missing-password');
  const result = await flow.chain.verify(flow.user, input);
  if (result.outcome !== 'accept') return passwordFailure(flow, result);
  if (lockedMeanwhile(flow)) return reject('locked', flow.user, result.backend);
  if (policy === 'initial-login' && !(await flow.ports.useInitialLogin(flow.user, flow.settings.auth.initial_login.max_logins))) {
    return reject('no-token', flow.user, result.backend, 'no active token, and the initial-login allowance is used up or not granted on this node');
  }
  return succeed(flow, result, policy);
}

async function codeOnly(flow: Flow, input: string): Promise<Decision> {
  const match = matchCode(flow.user, input, flow.ports.now(), flow.settings, flow.requestKey);
  if (typeof match === 'string') return fail(flow, codeFailure(match));
  return consumeAndAccept(flow, match);
}

async function inlineCodeFirst(flow: Flow, input: string): Promise<Decision> {
  const candidates = splitCandidates(input, flow.user.tokens.map((t) => t.digits));
  let failure: 'replay' | 'no-match' = 'no-match';
  for (const candidate of candidates) {
    const match = matchCode(flow.user, candidate.code, flow.ports.now(), flow.settings, flow.requestKey);
    if (match === 'replay') failure = 'replay';
    if (typeof match === 'string') continue;
    if (candidate.password === '') {
      await flow.ports.consume(flow.user, match.token, match.step, match.drift);
      return fail(flow, 'missing-password', undefined, 'only a code was given; this account needs password+code');
    }
    const result = await flow.chain.verify(flow.user, candidate.password);
    if (result.outcome === 'error') return passwordFailure(flow, result);
    // consume the code whether the password was right or not: a stolen code buys one password guess, not many
    if (result.outcome === 'reject') {
      await flow.ports.consume(flow.user, match.token, match.step, match.drift);
      return passwordFailure(flow, result);
    }
    return consumeAndAccept(flow, match, result);
  }
  const detail = candidates.length === 0 ? 'no trailing one-time code in the password' : undefined;
  return fail(flow, codeFailure(failure), undefined, detail);
}

async function inlinePasswordFirst(flow: Flow, input: string): Promise<Decision> {
  const candidates = splitCandidates(input, flow.user.tokens.map((t) => t.digits));
  if (candidates.length === 0) return fail(flow, 'bad-code', undefined, 'no trailing one-time code in the password');
  let rejected: PasswordRejection | undefined;
  for (const candidate of candidates) {
    if (candidate.password === '') continue;
    const result = await flow.chain.verify(flow.user, candidate.password);
    if (result.outcome === 'error') return passwordFailure(flow, result);
    if (result.outcome === 'reject') {
      rejected = result;
      continue;
    }
    const match = matchCode(flow.user, candidate.code, flow.ports.now(), flow.settings, flow.requestKey);
    if (typeof match === 'string') return fail(flow, codeFailure(match), result.backend);
    return consumeAndAccept(flow, match, result);
  }
  if (!rejected) return fail(flow, 'missing-password', undefined, 'only a code was given; this account needs password+code');
  return passwordFailure(flow, rejected);
}

async function passwordThenChallenge(flow: Flow, input: string): Promise<Decision> {
  if (input === '') return fail(flow, 'missing-password');
  const result = await flow.chain.verify(flow.user, input);
  if (result.outcome !== 'accept') return passwordFailure(flow, result);
  if (lockedMeanwhile(flow)) return reject('locked', flow.user, result.backend);
  const auth = flow.settings.auth;
  const state = await flow.ports.createChallenge(
    { userId: flow.user.id, username: flow.user.username, client: flow.client, backend: result.backend, groups: result.groups ?? [] },
    auth.challenge_timeout_seconds,
    flow.requestKey,
  );
  return { outcome: 'challenge', user: flow.user, state, prompt: auth.challenge_prompt, backend: result.backend };
}

async function answerChallenge(username: string, request: AuthRequest, ports: AuthPorts): Promise<Decision> {
  // a State is good only from the NAS it was sent to: another client holding it (a copy off the wire) gets nothing,
  // and does not use it up either
  const pending = await ports.takeChallenge(request.state!, request.client.name);
  if (!pending) return reject('challenge-expired', undefined, undefined, 'no pending challenge with this State for this client');
  const user = ports.findUser(pending.username);
  if (!user || user.id !== pending.userId || user.username.toLowerCase() !== username.toLowerCase()) {
    return reject('challenge-expired', user, undefined, 'the answer names a different user than the challenge');
  }
  const blocked = accountBlock(user, ports.now());
  if (blocked) return reject(blocked, user);
  const flow: Flow = { user, ports, settings: ports.settings(), chain: PASSWORD_ALREADY_CHECKED, client: request.client.name, requestKey: request.requestKey, request };
  // number matching: whatever the user typed, the login now waits for the approval that picks the number
  if (pending.pushNumber !== undefined) return holdForPush(flow, { outcome: 'accept', backend: pending.backend, groups: pending.groups }, pending.pushNumber);
  const match = matchCode(flow.user, request.password, flow.ports.now(), flow.settings, flow.requestKey);
  if (typeof match === 'string') return fail(flow, codeFailure(match));
  return consumeAndAccept(flow, match, { outcome: 'accept', backend: pending.backend, groups: pending.groups });
}

/**
 * Push mode: a trailing code that matches is a login like inline's (for a phone without data); otherwise the password
 * (a trailing "push" dropped) is checked, then the login is held for the user's approval, or, with number matching,
 * first answered with a challenge that shows the number.
 */
async function passwordThenPush(flow: Flow, input: string): Promise<Decision> {
  const codes = splitCandidates(input, flow.user.tokens.map((t) => t.digits));
  if (codes.some((c) => typeof matchCode(flow.user, c.code, flow.ports.now(), flow.settings, flow.requestKey) !== 'string')) return inlineCodeFirst(flow, input);
  const password = pushPassword(input);
  if (password === '') return fail(flow, 'missing-password');
  const result = await flow.chain.verify(flow.user, password);
  if (result.outcome !== 'accept') return passwordFailure(flow, result);
  if (lockedMeanwhile(flow)) return reject('locked', flow.user, result.backend);
  if (!flow.settings.push.number_matching) return holdForPush(flow, result);
  const number = pushNumber();
  const state = await flow.ports.createChallenge(
    { userId: flow.user.id, username: flow.user.username, client: flow.client, backend: result.backend, groups: result.groups ?? [], pushNumber: number },
    flow.settings.auth.challenge_timeout_seconds,
    flow.requestKey,
  );
  return { outcome: 'challenge', user: flow.user, state, prompt: pushPrompt(number), backend: result.backend };
}

/** Hold the login until its push is decided: Accept on approval, Reject otherwise. */
async function holdForPush(flow: Flow, password: Extract<PasswordResult, { outcome: 'accept' }>, number?: string): Promise<Decision> {
  const outcome = await flow.ports.push({
    user: flow.user,
    client: flow.client,
    clientAddress: flow.request.source ?? '',
    authenticator: flow.request.authenticator ?? flow.requestKey ?? '',
    number,
  });
  const backend = password.backend;
  switch (outcome) {
    case 'approved':
      return succeed(flow, password, 'push');
    case 'denied':
      return reject('push-denied', flow.user, backend, 'the user denied the login on the portal');
    case 'not-me':
      return reject('push-denied', flow.user, backend, 'the user said the login was not theirs: the account is locked');
    case 'timeout':
      return reject('push-timeout', flow.user, backend, `no approval within ${flow.settings.push.timeout_seconds} s`);
    case 'unavailable':
      return reject('push-unavailable', flow.user, backend, 'the push could not be made or its answer not heard (is the master reachable?)');
    case 'rate-limited':
      return reject('push-limited', flow.user, backend, `more than ${flow.settings.push.max_per_user_per_minute} pushes for this user in a minute (push.max_per_user_per_minute)`);
    case 'busy':
      return reject('push-limited', flow.user, backend, 'too many logins held on this node (radius.max_held_pushes)');
    case 'locked':
    case 'disabled':
      return reject(outcome, flow.user, backend);
  }
}
