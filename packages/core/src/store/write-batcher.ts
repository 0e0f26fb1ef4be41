/**
 * Group commit for the RADIUS hot path: writes queued during one turn of the event loop (replay steps, failure
 * counters, auth log rows, challenges) commit together in one transaction on the state database, before any of their
 * answers is sent. A thousand requests in flight then cost one commit, not a thousand, and an accept is still never
 * sent before the step it used is stored.
 *
 * The lock is another connection's for a moment now and then (another RADIUS worker, the master taking a replica's
 * steps, pruning): a commit that finds it taken is tried again a moment later, without blocking this thread, and the
 * answers wait for it. Only a failure that is not about the lock (disk full, I/O error, read-only file) or a lock held
 * past `maxWaitMs` fails the jobs; the store health hears of both, and of the next commit that works.
 */
import type { Database } from './database.js';
import { isBusyError, type StoreHealth } from './store-health.js';

interface Job {
  run: () => unknown;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

/** Pauses between attempts while another connection holds the lock, in ms (then the last, repeated). */
const RETRY_DELAYS_MS = [1, 1, 2, 5, 10, 20];

const ignore = () => undefined;

const spinCell = new Int32Array(new SharedArrayBuffer(4));
/** Block this thread for `ms` without spinning the CPU (Atomics.wait on a cell no one notifies). */
function pause(ms: number): void {
  Atomics.wait(spinCell, 0, 0, ms);
}

export class WriteBatcher {
  private queue: Job[] = [];
  private scheduled = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private attempt = 0;
  private waitingSince = 0;

  constructor(
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- runs jobs of any schema; the jobs hold the statements
    private readonly db: Database<any>,
    private readonly health: StoreHealth,
    /** Run first in each batch's transaction: what every job checks against is read once per batch, not per job. */
    private readonly prepare: () => void = () => undefined,
    private readonly maxWaitMs = 5000,
  ) {}

  get pending(): number {
    return this.queue.length;
  }

  enqueue<T>(run: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => this.push({ run, resolve: resolve as (v: unknown) => void, reject }));
  }

  /**
   * Queue a write no one waits for (the auth log row): no promise made for every request. Whether it committed is
   * still known to the store health, as for any batch.
   */
  add(run: () => unknown): void {
    this.push({ run, resolve: ignore, reject: ignore });
  }

  private push(job: Job): void {
    this.queue.push(job);
    if (!this.scheduled && this.retryTimer === undefined) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /**
   * Run `fn` in a transaction of its own now, before this thread does anything else: for a write that the next
   * request must see (a failure counter). While another connection holds the lock it waits in short pauses, up to
   * `maxWaitMs`.
   */
  runNow<T>(fn: () => T): T {
    const deadline = Date.now() + this.maxWaitMs;
    for (let i = 0; ; i++) {
      try {
        const value = this.db.transaction(fn);
        this.health.writeSucceeded();
        return value;
      } catch (err) {
        if (isBusyError(err) && Date.now() < deadline) {
          // short pauses: another connection's commit takes well under a millisecond
          pause(i < 20 ? 0.2 : 1);
          continue;
        }
        this.health.writeFailed(err);
        throw err;
      }
    }
  }

  /** Commit everything queued now; `wait`: block until it is committed or failed (shutdown). */
  flush(wait = false): void {
    this.scheduled = false;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    for (;;) {
      const outcome = this.tryCommit();
      if (outcome !== 'busy') return;
      if (Date.now() - this.waitingSince >= this.maxWaitMs) {
        this.failAll(new Error(`the state database stayed locked for ${this.maxWaitMs} ms`));
        return;
      }
      const delay = RETRY_DELAYS_MS[Math.min(this.attempt++, RETRY_DELAYS_MS.length - 1)]!;
      if (wait) {
        pause(delay);
        continue;
      }
      this.retryTimer = setTimeout(() => this.flush(), delay);
      return;
    }
  }

  /** One attempt: 'done' (committed or failed for good), or 'busy' (the jobs stay queued). */
  private tryCommit(): 'done' | 'busy' {
    const jobs = this.queue;
    if (jobs.length === 0) return 'done';
    // a job that throws fails alone; jobs are single statements (or harmless if cut short), so no savepoint each
    const outcomes: Array<{ ok: true; value: unknown } | { ok: false; error: unknown }> = [];
    try {
      this.db.transaction(() => {
        this.prepare();
        for (const job of jobs) {
          try {
            outcomes.push({ ok: true, value: job.run() });
          } catch (error) {
            if (isBusyError(error)) throw error;
            outcomes.push({ ok: false, error });
          }
        }
      });
    } catch (err) {
      if (isBusyError(err)) {
        if (this.attempt === 0) this.waitingSince = Date.now();
        return 'busy';
      }
      this.failAll(err);
      return 'done';
    }
    this.queue = [];
    this.attempt = 0;
    this.health.writeSucceeded();
    jobs.forEach((job, i) => {
      const o = outcomes[i]!;
      if (o.ok) job.resolve(o.value);
      else job.reject(o.error);
    });
    return 'done';
  }

  private failAll(err: unknown): void {
    const jobs = this.queue;
    this.queue = [];
    this.attempt = 0;
    this.health.writeFailed(err);
    for (const job of jobs) job.reject(err);
  }
}
