import { randomBytes } from 'node:crypto';

export interface PendingChallenge {
  userId: number;
  username: string;
  expiresAt: number;
  /** Where the password was checked and the directory groups it reported, for the final answer. */
  backend: string;
  groups: string[];
}

const MAX_PENDING = 100_000;

/**
 * Access-Challenge State values: random, single use, expiring. Held in memory: a NAS sends the answer to the server
 * that asked, and a restart only means the user starts again.
 */
export class ChallengeStore {
  private readonly pending = new Map<string, PendingChallenge>();

  constructor(private readonly now: () => number = Date.now) {}

  create(userId: number, username: string, ttlSeconds: number, backend: string, groups: string[]): Buffer {
    if (this.pending.size >= MAX_PENDING) this.sweep();
    const state = randomBytes(16);
    this.pending.set(state.toString('hex'), { userId, username, expiresAt: this.now() + ttlSeconds * 1000, backend, groups });
    return state;
  }

  /** The challenge for `state`, removed so it cannot be answered twice; undefined if unknown or expired. */
  take(state: Buffer): PendingChallenge | undefined {
    const key = state.toString('hex');
    const found = this.pending.get(key);
    if (!found) return undefined;
    this.pending.delete(key);
    return found.expiresAt > this.now() ? found : undefined;
  }

  get size(): number {
    return this.pending.size;
  }

  sweep(): void {
    const t = this.now();
    for (const [key, c] of this.pending) if (c.expiresAt <= t) this.pending.delete(key);
    // still full of live challenges: a flood; drop the oldest half rather than grow without bound
    if (this.pending.size >= MAX_PENDING) {
      let n = this.pending.size / 2;
      for (const key of this.pending.keys()) {
        if (n-- <= 0) break;
        this.pending.delete(key);
      }
    }
  }
}
