/**
 * RFC 5080 §2.2.2 duplicate detection. A retransmission (same source address and port, Identifier and Request
 * Authenticator) gets the cached answer byte for byte; one that arrives while the first is still being worked on is
 * dropped. Answers live between `ttl` and 2 x `ttl`: two generations swapped every `ttl`, so expiry costs nothing
 * per entry. Requests being worked on are kept apart until answered or abandoned, however long a backend takes (an
 * LDAP failover or an Entra timeout can outlast `ttl`): a late retransmission must not start a second authentication.
 */
export type DuplicateState = { kind: 'new' } | { kind: 'in-progress' } | { kind: 'answered'; response: Buffer };

export class DuplicateCache {
  private current = new Map<string, Buffer>();
  private previous = new Map<string, Buffer>();
  private readonly pending = new Set<string>();
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
    if (this.pending.has(key)) return { kind: 'in-progress' };
    this.rotate();
    const response = this.current.get(key) ?? this.previous.get(key);
    if (response !== undefined) return { kind: 'answered', response };
    this.pending.add(key);
    return { kind: 'new' };
  }

  /** Remember the answer sent. */
  answered(key: string, response: Buffer): void {
    this.pending.delete(key);
    this.previous.delete(key);
    this.current.set(key, response);
  }

  /** Forget a request that got no answer (dropped on purpose), so a retransmission is worked on again. */
  abandon(key: string): void {
    this.pending.delete(key);
    this.current.delete(key);
    this.previous.delete(key);
  }

  get size(): number {
    return this.current.size + this.previous.size + this.pending.size;
  }

  private rotate(): void {
    const t = this.now();
    if (t - this.rotatedAt < this.ttlMs) return;
    // a long quiet spell: both generations are stale
    this.previous = t - this.rotatedAt >= 2 * this.ttlMs ? new Map<string, Buffer>() : this.current;
    this.current = new Map<string, Buffer>();
    this.rotatedAt = t;
  }
}
