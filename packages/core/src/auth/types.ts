import type { AuthMode, RejectReason, Settings } from '@otpgate/shared';
import type { OtpToken } from '../otp/verify.js';
import type { PasswordBackend } from '../backends/backend.js';
import type { ChallengeStore } from './challenges.js';

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
}

export interface AuthRequest {
  username: string;
  /** User-Password in clear ('' when the request had none). */
  password: string;
  /** State of a challenge being answered. */
  state: Buffer | undefined;
  /** The mode the client asks for; the user's own mode wins. */
  clientMode: AuthMode | null;
}

export type Decision =
  | { outcome: 'accept'; user: AuthUser; backend?: string }
  | { outcome: 'reject'; reason: RejectReason; user?: AuthUser; backend?: string; detail?: string }
  | { outcome: 'challenge'; user: AuthUser; state: Buffer; prompt: string; backend?: string };

/**
 * What the pipeline may touch. Plain objects in tests; the store, the backend chain and the clock in a node.
 */
export interface AuthPorts {
  findUser(username: string): AuthUser | undefined;
  /** Store `step` as the token's last used step, only if it is past the stored one. False: used already. */
  consume(user: AuthUser, token: OtpToken, step: number, drift: number): Promise<boolean>;
  recordFailure(user: AuthUser): Promise<void>;
  recordSuccess(user: AuthUser): Promise<void>;
  password: PasswordBackend;
  challenges: ChallengeStore;
  now(): number;
  settings(): Settings;
}
