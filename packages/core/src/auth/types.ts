import type { AuthMode, RejectReason, Settings, VpnCredentialAnswer } from '@otpgate/shared';
import type { OtpToken } from '../otp/verify.js';
import type { PasswordBackend } from '../backends/backend.js';
import type { PendingChallenge, StepUse } from '../store/auth-repository.js';
import type { PushOutcome } from '../push/held-pushes.js';

/** A user as the authentication pipeline sees it: everything needed to decide, read in one go. */
export interface AuthUser {
  id: number;
  username: string;
  status: 'active' | 'disabled';
  passwordHash: string | null;
  authMode: AuthMode | null;
  groups: string[];
  /** The user's own reply attributes, as stored (JSON text; encoded and cached by the RADIUS layer). */
  attributesJson: string;
  tokens: OtpToken[];
  failures: number;
  lockedUntil: number | null;
  createdAt: number;
  /** Admin-set deadline for logging in without a token (to enrol); null = the global allowance. */
  initialLoginUntil: number | null;
  /** Tokens an admin disabled (a lost or compromised phone): such a user is not new, so no global allowance. */
  hasDisabledTokens: boolean;
}

/** What the pipeline needs to know about the RADIUS client a request came through. */
export interface ClientPolicy {
  name: string;
  /** The mode the client asks for; the user's own mode wins. */
  mode: AuthMode | null;
  /** The client's backend chain; null = the default. */
  backends: readonly string[] | null;
  /** Every user of this client may use the password alone. */
  singleFactor: boolean;
}

export interface AuthRequest {
  /** As the NAS sent it: may carry a realm (user@realm, DOMAIN\user). */
  username: string;
  /** User-Password in clear ('' when the request had none). */
  password: string;
  /** State of a challenge being answered. */
  state: Buffer | undefined;
  /**
   * Names the RADIUS request (source, Identifier, Request Authenticator): a retransmission worked on again gets the
   * same answer. Absent outside RADIUS.
   */
  requestKey?: string;
  /** RADIUS only: the request's source address and its Request Authenticator (hex), which name a held push. */
  source?: string;
  authenticator?: string;
  client: ClientPolicy;
}

/** A login to hold for its user's approval (push mode). */
export interface PushRequest {
  user: AuthUser;
  client: string;
  clientAddress: string;
  /** The Request Authenticator (hex): with client and user, the push's key, shared by retransmissions. */
  authenticator: string;
  /** Number matching: the number the Access-Challenge showed. */
  number?: string;
}

/** Why a password alone was enough. */
export type SingleFactorPolicy = 'single-factor' | 'initial-login';
/** How an Accept was reached when not by password and code: the auth log's `policy`. */
export type AcceptPolicy = SingleFactorPolicy | 'vpn-credential' | 'push';

/** The auth log line's note on an accept's policy. */
export function policyNote(policy: string): string {
  if (policy === 'push') return 'approved by push';
  return policy === 'vpn-credential' ? 'one-time VPN credential' : `${policy}: password only`;
}

export type Decision =
  | {
      outcome: 'accept';
      user: AuthUser;
      backend?: string;
      /** Local groups and the groups the directory reported: they select reply attributes. */
      groups: string[];
      policy?: AcceptPolicy;
    }
  | { outcome: 'reject'; reason: RejectReason; user?: AuthUser; backend?: string; detail?: string }
  | { outcome: 'challenge'; user: AuthUser; state: Buffer; prompt: string; backend?: string };

/**
 * What the pipeline may touch. Plain objects in tests; the store, the backends and the clock in a node.
 */
export interface AuthPorts {
  findUser(username: string): AuthUser | undefined;
  /**
   * Store `step` as the token's last used step, only if it is past the stored one and the account may still log in
   * (not locked, user and token active, checked in the same transaction). 'repeat': this same request (by
   * `requestKey`) used it before; anything else: not this request's.
   */
  consume(user: AuthUser, token: OtpToken, step: number, drift: number, requestKey?: string): Promise<StepUse>;
  /**
   * Use the one-time VPN credential `password` (of its shape) for `user` through `client`: in the store on a master,
   * at the master from a replica ('unavailable' when it cannot be asked). 'unknown': no such credential.
   */
  useVpnCredential(user: AuthUser, password: string, client: string, requestKey?: string): Promise<VpnCredentialAnswer | 'unavailable'>;
  /** Count a failure before returning (the next request for the user must see it), locking the account at the limit. */
  recordFailure(user: AuthUser): Promise<void>;
  recordSuccess(user: AuthUser): Promise<void>;
  /** The backends named, chained in order. */
  passwords(chain: readonly string[]): PasswordBackend;
  /**
   * Count one password-only login of a user without a token; false when the allowance is used up or this node
   * may not grant it (replicas never do).
   */
  useInitialLogin(user: AuthUser, maxLogins: number): Promise<boolean>;
  /** Remember a challenge (single use, expiring) before it is sent; returns its State. */
  createChallenge(challenge: PendingChallenge, ttlSeconds: number, requestKey?: string): Promise<Buffer>;
  /**
   * Take the challenge for `state` sent to `client` (so it cannot be answered twice); undefined if unknown, expired
   * or sent to another client.
   */
  takeChallenge(state: Buffer, client: string): Promise<PendingChallenge | undefined>;
  /** Hold the login until its push is decided (push mode): the answer is how it ended. */
  push(request: PushRequest): Promise<PushOutcome>;
  /** The lock as stored now (after a slow password check, another request may have locked the account). */
  lockedUntil(user: AuthUser): number | null;
  now(): number;
  settings(): Settings;
}
