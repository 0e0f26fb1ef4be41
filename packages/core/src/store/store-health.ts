/**
 * Whether this node can write its state database. A node that cannot (disk full, I/O error, a read-only file)
 * must not answer Accept, since the step it would use is not stored, and must say so: /readyz turns false with the
 * reason, so load balancers and the NAS's failover move on, and one log line a minute names the cause rather than a
 * stack trace per request. The next write that works clears it.
 */
import type { Logger } from '../logger.js';

/** SQLite's "another connection holds the lock" answers: wait and try again, nothing is wrong. */
export function isBusyError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'SQLITE_BUSY' || code === 'SQLITE_BUSY_SNAPSHOT' || code === 'SQLITE_LOCKED';
}

/** A person's words for why a write failed. */
export function describeWriteError(err: unknown): string {
  const code = String((err as { code?: unknown } | null)?.code ?? '');
  const message = (err as Error | null)?.message ?? String(err);
  if (code === 'SQLITE_FULL') return 'the disk holding the data folder is full';
  if (code.startsWith('SQLITE_READONLY')) return 'the database file is read-only (permissions, or a read-only file system)';
  if (code.startsWith('SQLITE_IOERR')) return `the disk reported an I/O error (${code})`;
  return message;
}

const LOG_INTERVAL_MS = 60_000;

export class StoreHealth {
  private failure: { reason: string; since: number } | undefined;
  private lastLogged = 0;
  private suppressed = 0;

  constructor(
    private readonly logger?: Logger,
    /** Told of every change between writable and not (the metric behind the alert). */
    private readonly onChange?: (writable: boolean) => void,
    private readonly now: () => number = Date.now,
  ) {
    onChange?.(true);
  }

  /** undefined while writes work; otherwise why they fail and since when. */
  get problem(): { reason: string; since: number } | undefined {
    return this.failure;
  }

  writeFailed(err: unknown): void {
    const reason = describeWriteError(err);
    const t = this.now();
    if (!this.failure) this.onChange?.(false);
    this.failure ??= { reason, since: t };
    this.failure.reason = reason;
    if (t - this.lastLogged >= LOG_INTERVAL_MS) {
      this.lastLogged = t;
      this.logger?.error(
        { event: 'store-unwritable', reason, failed_writes_since_last_line: this.suppressed },
        `cannot write the state database: ${reason}; answering no Access-Request with Accept until it works again`,
      );
      this.suppressed = 0;
    } else {
      this.suppressed++;
    }
  }

  writeSucceeded(): void {
    if (!this.failure) return;
    this.logger?.warn(
      { event: 'store-writable', down_seconds: Math.round((this.now() - this.failure.since) / 1000) },
      'the state database is writable again',
    );
    this.failure = undefined;
    this.onChange?.(true);
    this.lastLogged = 0;
    this.suppressed = 0;
  }
}
