import type { RejectReason } from '@otpgate/shared';

/** Who the password is being checked for. */
export interface PasswordSubject {
  username: string;
  /** The local argon2id hash, when the user has one. */
  passwordHash: string | null;
}

/**
 * A password check's answer: accepted; rejected with a reason the user's admin can act on; or the backend could not
 * answer (down, timed out, misconfigured), which is never treated as a wrong password.
 */
export type PasswordResult =
  | { outcome: 'accept'; backend: string }
  | { outcome: 'reject'; backend: string; reason: RejectReason; detail: string }
  | { outcome: 'error'; backend: string; detail: string };

export interface PasswordBackend {
  readonly name: string;
  verify(subject: PasswordSubject, password: string): Promise<PasswordResult>;
}
