/**
 * Whether this node can write its state database. A node that cannot (disk full, I/O error, a read-only file)
 * must not answer Accept, since the step it would use is not stored, and must say so: /readyz turns false with the
 * reason, so load balancers and the NAS's failover move on, and one log line a minute names the cause rather than a
 * stack trace per request. The next write that works clears it: a request's, or the small probe write readiness
 * makes while it is failing (so a node that load balancers took out of service comes back once there is space).
 *
 * Nothing needs a restart: SQLite's automatic checkpoint after a commit ignores its own failure (the WAL keeps the
 * pages and grows), so a checkpoint short of space never fails a commit, and the first one after space is back
 * folds the WAL into the database file.
 */
import type { Logger } from '../logger.js';
import type { Database } from './database.js';
import type { StateDB } from './state-schema.js';

/** SQLite's "another connection holds the lock" answers: wait and try again, nothing is wrong. */
export function isBusyError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'SQLITE_BUSY' || code === 'SQLITE_BUSY_SNAPSHOT' || code === 'SQLITE_LOCKED';
}

/** A person's words for why a write failed. */
export function describeWriteError(err: unknown): string {
  return storeWriteProblem(err) ?? (err as Error | null)?.message ?? String(err);
}

/**
 * Why the disk or the file system refused a write (full, I/O error, read-only), looking through the causes of a
 * wrapped error; undefined for any other error. Such a failure is the node's, not the request's: it is answered
 * as "the node cannot write now" (503, a drop) and logged once in a while, not as a bug with a stack trace.
 */
export function storeWriteProblem(err: unknown): string | undefined {
  for (let e = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const raw = (e as { code?: unknown }).code;
    const code = typeof raw === 'string' ? raw : '';
    // SQLite's codes, and the system's for a file written beside the database (a snapshot being received)
    if (code === 'SQLITE_FULL' || code === 'ENOSPC' || code === 'EDQUOT') return 'the disk holding the data folder is full';
    if (code === 'EROFS') return 'the data folder is on a read-only file system';
    if (code.startsWith('SQLITE_READONLY')) return 'the database file is read-only (permissions, or a read-only file system)';
    // SQLite writes a byte to each page of the shared-memory file as it grows it: what fails there is mostly room
    if (code === 'SQLITE_IOERR_SHMSIZE') return 'no room for the database\'s shared-memory file (is the disk holding the data folder full?)';
    if (code.startsWith('SQLITE_IOERR')) return `the disk reported an I/O error (${code})`;
  }
  return undefined;
}

/** Rewrite the state database's probe row: a real page written, as small as a write gets. */
export function probeStateWrite(state: Database<StateDB>, now = Date.now()): void {
  state.transaction(() => {
    state.prepare('insert into write_probe (id, at) values (1, ?) on conflict (id) do update set at = excluded.at').run(now);
  });
}

const LOG_INTERVAL_MS = 60_000;
/** While writes fail, readiness tries a probe write at most this often. */
const RECHECK_INTERVAL_MS = 1000;

export class StoreHealth {
  private failure: { reason: string; since: number } | undefined;
  private lastLogged = 0;
  private suppressed = 0;
  private lastRecheck = 0;

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
    const first = this.failure === undefined;
    this.failure ??= { reason, since: this.now() };
    this.failure.reason = reason;
    if (first) this.onChange?.(false);
    this.logFailure(reason);
  }

  /** Say why writes fail, at most once a minute (for a RADIUS thread's failure too, which it does not log itself). */
  logFailure(reason: string): void {
    const t = this.now();
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

  /**
   * While writes fail, try `probe` (a small write, see probeStateWrite), at most once a second: the first that works
   * clears the failure. Without it only a request's write would, and a node out of traffic because it said "not
   * ready" would say so for good. Another connection holding the lock proves nothing either way.
   */
  recheck(probe: () => void): void {
    if (!this.failure) return;
    const t = this.now();
    if (t - this.lastRecheck < RECHECK_INTERVAL_MS) return;
    this.lastRecheck = t;
    try {
      probe();
    } catch (err) {
      if (!isBusyError(err)) this.writeFailed(err);
      return;
    }
    this.writeSucceeded();
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
