import argon2 from 'argon2';
import { InvalidInputError } from '@otpgate/shared';
import type { PasswordBackend, PasswordResult, PasswordSubject } from './backend.js';

/** OWASP's argon2id recommendation (m = 19 MiB, t = 2, p = 1): slow on purpose, run on libuv's thread pool. */
export const ARGON2_OPTIONS = { type: argon2.argon2id, memoryCost: 19456, timeCost: 2, parallelism: 1 } as const;

export const MIN_PASSWORD_LENGTH = 8;

export async function hashPassword(password: string): Promise<string> {
  if (password.length < MIN_PASSWORD_LENGTH) {
    throw new InvalidInputError(`must be at least ${MIN_PASSWORD_LENGTH} characters`, 'password');
  }
  return argon2.hash(password, ARGON2_OPTIONS);
}

/** The password stored (hashed) in otpgate's own database. */
export class LocalPasswordBackend implements PasswordBackend {
  readonly name = 'local';

  async verify(subject: PasswordSubject, password: string): Promise<PasswordResult> {
    if (!subject.passwordHash) {
      return { outcome: 'reject', backend: this.name, reason: 'bad-password', detail: 'the user has no local password' };
    }
    try {
      return (await argon2.verify(subject.passwordHash, password))
        ? { outcome: 'accept', backend: this.name }
        : { outcome: 'reject', backend: this.name, reason: 'bad-password', detail: 'local password does not match' };
    } catch (err) {
      return { outcome: 'error', backend: this.name, detail: `stored password hash unusable: ${(err as Error).message}` };
    }
  }
}
