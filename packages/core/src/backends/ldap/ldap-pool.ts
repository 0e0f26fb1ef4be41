import { LdapBackendError } from './ldap-errors.js';

export interface PoolOptions<T> {
  /** Shown in errors. */
  label: string;
  /** Connections kept at most. */
  max: number;
  /**
   * Operations one connection may carry at once: 1 for connections used for binds (RFC 4511 §4.2: nothing may be
   * sent while a bind is in progress), more for searches, which LDAP lets a client pipeline on one connection.
   */
  share: number;
  /** How long a caller waits for a connection before giving up. */
  acquireTimeoutMs: number;
  create(): Promise<T>;
  /** False once the connection is closed or no longer bound: it is dropped instead of being handed out. */
  alive(conn: T): boolean;
  /**
   * Connections to share first (share > 1), before an idle one or a new one: those with requests already waiting to
   * go out in this event-loop turn, so that the next request leaves in the same write.
   */
  preferred?: (conn: T) => boolean;
  destroy(conn: T): Promise<void>;
}

interface Entry<T> {
  conn: T;
  users: number;
}

/** A connection handed out by the pool; give it back with release(). */
export interface Lease<T> {
  readonly conn: T;
  /** True when the connection served earlier requests (it may have gone stale since). */
  readonly reused: boolean;
}

interface Waiter<T> {
  resolve: (lease: Lease<T>) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

/**
 * A bounded pool of connections to one server: at most `max` connections, each carrying at most `share` operations;
 * callers beyond that queue (FIFO) for up to acquireTimeoutMs. Connections are opened on demand and kept.
 */
export class ConnectionPool<T> {
  private readonly entries: Array<Entry<T>> = [];
  private readonly leases = new WeakMap<Lease<T>, Entry<T>>();
  private readonly waiters: Array<Waiter<T>> = [];
  private creating = 0;
  private closed = false;

  constructor(private readonly options: PoolOptions<T>) {}

  get size(): number {
    return this.entries.length + this.creating;
  }

  get queued(): number {
    return this.waiters.length;
  }

  acquire(): Promise<Lease<T>> {
    if (this.closed) return Promise.reject(new LdapBackendError('closed-backend', `${this.options.label}: pool closed`));
    // queued callers go first (FIFO), so a burst cannot starve them
    if (this.waiters.length === 0) {
      const entry = this.takeIdleOrShared();
      if (entry) return Promise.resolve(this.lease(entry, true));
      if (this.size < this.options.max) return this.createFor();
    }
    const queued = new Promise<Lease<T>>((resolve, reject) => {
      const waiter: Waiter<T> = {
        resolve,
        reject,
        timer: setTimeout(() => {
          this.removeWaiter(waiter);
          reject(
            new LdapBackendError(
              'pool-exhausted',
              `${this.options.label}: all ${this.options.max} connections stayed busy for ${this.options.acquireTimeoutMs} ms ` +
                '(raise pool_size or timeout_ms, or check the directory load)',
            ),
          );
        }, this.options.acquireTimeoutMs),
      };
      this.waiters.push(waiter);
    });
    this.dispatch();
    return queued;
  }

  /** Gives a connection back. `healthy` false (a transport error) closes it rather than handing it out again. */
  release(lease: Lease<T>, healthy: boolean): void {
    const entry = this.leases.get(lease);
    if (!entry) return; // released twice
    this.leases.delete(lease);
    entry.users -= 1;
    if (!healthy || this.closed || !this.options.alive(entry.conn)) this.drop(entry);
    this.dispatch();
  }

  /** Closes idle connections and fails queued callers; connections in use close when released. */
  async drain(reason: Error): Promise<void> {
    for (const w of this.waiters.splice(0)) {
      clearTimeout(w.timer);
      w.reject(reason);
    }
    const idle = this.entries.filter((e) => e.users === 0);
    for (const e of idle) this.remove(e);
    await Promise.all(idle.map((e) => this.options.destroy(e.conn).catch(() => undefined)));
  }

  async close(): Promise<void> {
    this.closed = true;
    const all = this.entries.splice(0);
    await this.drain(new LdapBackendError('closed-backend', `${this.options.label}: pool closed`));
    await Promise.all(all.map((e) => this.options.destroy(e.conn).catch(() => undefined)));
  }

  private takeIdleOrShared(): Entry<T> | null {
    const preferred = this.options.preferred;
    if (preferred && this.options.share > 1) {
      for (const e of this.entries) if (e.users > 0 && e.users < this.options.share && preferred(e.conn)) return e;
    }
    let best: Entry<T> | null = null;
    for (let i = this.entries.length - 1; i >= 0; i--) {
      const e = this.entries[i]!;
      if (e.users === 0 && !this.options.alive(e.conn)) {
        this.drop(e);
        continue;
      }
      if (e.users === 0) return e;
      if (e.users < this.options.share && (!best || e.users < best.users)) best = e;
    }
    // open another connection rather than share a busy one while the pool may still grow
    return best && this.size >= this.options.max ? best : null;
  }

  private lease(entry: Entry<T>, reused: boolean): Lease<T> {
    entry.users += 1;
    const lease: Lease<T> = { conn: entry.conn, reused };
    this.leases.set(lease, entry);
    return lease;
  }

  private async createFor(): Promise<Lease<T>> {
    this.creating += 1;
    let conn: T;
    try {
      conn = await this.options.create();
    } catch (err) {
      this.creating -= 1;
      // the server just refused a connection: queued callers would fail the same way, so fail them now (they fail
      // over to the next server) instead of letting each wait for its own connect timeout
      for (const w of this.waiters.splice(0)) {
        clearTimeout(w.timer);
        w.reject(err as Error);
      }
      throw err;
    }
    this.creating -= 1;
    if (this.closed) {
      await this.options.destroy(conn).catch(() => undefined);
      throw new LdapBackendError('closed-backend', `${this.options.label}: pool closed`);
    }
    const entry: Entry<T> = { conn, users: 0 };
    this.entries.push(entry);
    const lease = this.lease(entry, false);
    this.dispatch(); // a shared connection can serve queued callers too
    return lease;
  }

  private dispatch(): void {
    while (this.waiters.length > 0) {
      const entry = this.takeIdleOrShared();
      if (entry) {
        const w = this.waiters.shift()!;
        clearTimeout(w.timer);
        w.resolve(this.lease(entry, true));
        continue;
      }
      if (this.size < this.options.max) {
        const w = this.waiters.shift()!;
        clearTimeout(w.timer);
        this.createFor().then(w.resolve, w.reject);
        continue;
      }
      return;
    }
  }

  private removeWaiter(w: Waiter<T>): void {
    const i = this.waiters.indexOf(w);
    if (i >= 0) this.waiters.splice(i, 1);
  }

  private remove(entry: Entry<T>): void {
    const i = this.entries.indexOf(entry);
    if (i >= 0) this.entries.splice(i, 1);
  }

  private drop(entry: Entry<T>): void {
    this.remove(entry);
    void this.options.destroy(entry.conn).catch(() => undefined);
  }
}
