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
  /** `groups`: otpgate groups the directory says the user is in (after the backend's group_map). */
  | { outcome: 'accept'; backend: string; groups?: string[] }
  | { outcome: 'reject'; backend: string; reason: RejectReason; detail: string }
  /** `overloaded`: the backend refused to queue more work; the request should get no answer, so the NAS retries. */
  | { outcome: 'error'; backend: string; detail: string; overloaded?: boolean };

export interface PasswordBackend {
  readonly name: string;
  verify(subject: PasswordSubject, password: string): Promise<PasswordResult>;
  /**
   * Spend about the time a check for a known user takes, for a name that is not known, without asking anyone about
   * it (a directory or Entra ID must not see guesses at names otpgate does not have: they count toward its lockout).
   */
  decoy?(password: string): Promise<void>;
}

/** What a backend's "test connection" found, step by step, for the CLI and the admin UI. */
export interface ConnectionReport {
  ok: boolean;
  steps: Array<{ step: string; ok: boolean; detail: string }>;
}

/** A backend that talks to a server can be probed without a user's password. */
export interface TestableBackend extends PasswordBackend {
  testConnection(username?: string): Promise<ConnectionReport>;
  close?(): Promise<void>;
}

/**
 * A directory that can read a user's account state and groups without their password (with its service account), so a
 * directory admin's session can be checked again without asking them to sign in.
 */
export interface UserLookup {
  /** As `verify` answers for the right password: accept with the groups, reject (unknown-user, disabled...), or error. */
  lookup(username: string): Promise<PasswordResult>;
}

/** A configured backend, with whichever of the optional abilities its kind has. */
export type ConfiguredBackend = PasswordBackend & Partial<TestableBackend> & Partial<UserLookup>;
