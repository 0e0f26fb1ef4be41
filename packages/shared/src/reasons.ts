/**
 * Why an Access-Request was rejected. One vocabulary for the log line, the audit record and the metric label,
 * so an operator can search for the same word everywhere.
 */
/** What a node did with an Access-Request: the auth log's `result`. */
export const AUTH_RESULTS = ['accept', 'reject', 'challenge', 'drop'] as const;
export type AuthResult = (typeof AUTH_RESULTS)[number];

export const REJECT_REASONS = [
  'unknown-user',
  'bad-password',
  'bad-code',
  'replay',
  'locked',
  'disabled',
  'no-token',
  'backend-error',
  'challenge-expired',
  'missing-password',
  'password-expired',
  'account-expired',
  'must-change-password',
  'not-permitted',
  'conditional-access',
  'single-factor-not-allowed',
  'overloaded',
  'unconfirmed',
  'credential-expired',
  'push-denied',
  'push-timeout',
  'push-unavailable',
  'push-limited',
  'passkey-required',
] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];

export const REJECT_REASON_TEXT: Record<RejectReason, string> = {
  'unknown-user': 'no such user',
  'bad-password': 'wrong password',
  'bad-code': 'wrong one-time code',
  replay: 'one-time code already used',
  locked: 'account locked after repeated failures',
  disabled: 'account disabled',
  'no-token': 'no active token',
  'backend-error': 'password backend unavailable',
  'challenge-expired': 'challenge expired or unknown; start again',
  'missing-password': 'no password given',
  'password-expired': 'password expired',
  'account-expired': 'account expired',
  'must-change-password': 'password must be changed first',
  'not-permitted': 'not permitted to log on now or from here',
  'conditional-access': 'blocked by conditional access',
  'single-factor-not-allowed': 'password alone is not enough for this account',
  overloaded: 'server busy; try again',
  unconfirmed: 'one-time code could not be confirmed unused (master unreachable)',
  'credential-expired': 'one-time VPN password expired; get a new one from the portal',
  'push-denied': 'login denied on the portal',
  'push-timeout': 'login not approved in time',
  'push-unavailable': 'approval could not be asked for; try again later',
  'push-limited': 'too many approvals asked for; wait a minute',
  'passkey-required': 'this account signs in with a passkey on the user portal',
};
