/**
 * RFC 5080 §2.2.2 duplicate detection. A retransmission (same source address and port, Identifier and Request
 * Authenticator) gets the cached answer byte for byte; one that arrives while the first is still being worked on is
 * dropped. Entries live between `ttl` and 2 x `ttl`: two generations swapped every `ttl`, so expiry costs nothing
 * per entry.
 */
export type DuplicateState = { kind: 'new' } | { kind: 'in-progress' } | { kind: 'answered'; response: Buffer };

const IN_PROGRESS = Symbol('in-progress');
type Entry = Buffer | typeof IN_PROGRESS;

export class DuplicateCache {
  private current = new Map<string, Entry>();
  private previous = new Map<string, Entry>();
  private rotatedAt: number;

  constructor(
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {
    this.rotatedAt = now();
  }

  static key(address: string, port: number, identifier: number, authenticator: Buffer): string {
    return `${address}|${port}|${identifier}|${authenticator.toString('latin1')}`;
  }

  /** Look the request up and, when it is new, mark it in progress. */
  begin(key: string): DuplicateState {
    this.rotate();
    const entry = this.current.get(key) ?? this.previous.get(key);
    if (entry === undefined) {
      this.current.set(key, IN_PROGRESS);
      return { kind: 'new' };
    }
    return entry === IN_PROGRESS ? { kind: 'in-progress' } : { kind: 'answered', response: entry };
  }

  /** Remember the answer sent. */
  answered(key: string, response: Buffer): void {
    this.previous.delete(key);
    this.current.set(key, response);
  }

  /** Forget a request that got no answer (dropped on purpose), so a retransmission is worked on again. */
  abandon(key: string): void {
    this.current.delete(key);
    this.previous.delete(key);
  }

  get size(): number {
    return this.current.size + this.previous.size;
  }

  private rotate(): void {
    const t = this.now();
    if (t - this.rotatedAt < this.ttlMs) return;
    // a long quiet spell: both generations are stale
    this.previous = t - this.rotatedAt >= 2 * this.ttlMs ? new Map() : this.current;
    this.current = new Map();
    this.rotatedAt = t;
  }
}
