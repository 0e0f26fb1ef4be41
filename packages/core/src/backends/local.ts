import { randomBytes } from 'node:crypto';
import argon2 from 'argon2';
import { InvalidInputError, errorMessage } from '@otpgate/shared';
import type { PasswordBackend, PasswordResult, PasswordSubject } from './backend.js';
import { OverloadedError, WorkQueue } from './work-queue.js';

/** OWASP's argon2id recommendation (m = 19 MiB, t = 2, p = 1): slow on purpose, run on libuv's thread pool. */
export const ARGON2_OPTIONS = { type: argon2.argon2id, memoryCost: 19456, timeCost: 2, parallelism: 1 } as const;

export const MIN_PASSWORD_LENGTH = 8;

export async function hashPassword(password: string): Promise<string> {
  if (password.length < MIN_PASSWORD_LENGTH) {
    throw new InvalidInputError(`must be at least ${MIN_PASSWORD_LENGTH} characters`, 'password');
  }
  return argon2.hash(password, ARGON2_OPTIONS);
}

/** An argon2id hash of a random password, made on first need: what a check with no real hash is made against. */
let decoyHash: Promise<string> | undefined;

/**
 * True when the password matches the argon2id hash. Without a hash (no such account, or one refused before its
 * password is looked at) the same work is spent on a decoy and the answer is false, so the time taken does not tell
 * which accounts exist.
 */
export async function verifyPasswordHash(hash: string | undefined, password: string): Promise<boolean> {
  const target = hash ?? (await (decoyHash ??= hashPassword(randomBytes(18).toString('base64'))));
  try {
    return (await argon2.verify(target, password)) && hash !== undefined;
  } catch {
    return false;
  }
}

/** libuv's thread pool runs argon2: as many checks at a time as it has threads. */
const THREADS = Number(process.env.UV_THREADPOOL_SIZE ?? 4) || 4;
/** A NAS retransmits after a few seconds and gives up soon after: older checks are not worth starting. */
const MAX_WAIT_MS = 2500;
const MAX_QUEUE = 2048;

/** The password stored (hashed) in otpgate's own database. */
export class LocalPasswordBackend implements PasswordBackend {
  private readonly queue = new WorkQueue(THREADS, MAX_QUEUE, MAX_WAIT_MS);

  constructor(readonly name = 'local') {}

  async verify(subject: PasswordSubject, password: string): Promise<PasswordResult> {
    const hash = subject.passwordHash;
    // no local password: this backend does not know the user's password, so a chain asks the next (the directory)
    if (!hash) return { outcome: 'reject', backend: this.name, reason: 'unknown-user', detail: 'the user has no local password' };
    try {
      return (await this.queue.run(() => argon2.verify(hash, password)))
        ? { outcome: 'accept', backend: this.name }
        : { outcome: 'reject', backend: this.name, reason: 'bad-password', detail: 'local password does not match' };
    } catch (err) {
      if (err instanceof OverloadedError) {
        return { outcome: 'error', backend: this.name, detail: `argon2 queue full: ${err.message}`, overloaded: true };
      }
      return { outcome: 'error', backend: this.name, detail: `stored password hash unusable: ${errorMessage(err)}` };
    }
  }

  /** The argon2id check a known user's password costs, through the same queue, against the decoy hash. */
  async decoy(password: string): Promise<void> {
    await this.queue.run(() => verifyPasswordHash(undefined, password)).catch(() => false);
  }
}
