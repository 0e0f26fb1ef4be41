import type { Database } from './database.js';

interface Job {
  run: () => unknown;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

/**
 * Group commit for the RADIUS hot path: writes queued during one turn of the event loop (replay steps, failure
 * counters, auth log rows) commit together in one transaction, before any of their answers is sent. A thousand
 * requests in flight then cost one WAL commit, not a thousand, and an accept is still never sent before the step it
 * consumed is stored.
 */
export class WriteBatcher {
  private queue: Job[] = [];
  private scheduled = false;

  constructor(private readonly db: Database) {}

  enqueue<T>(run: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ run, resolve: resolve as (v: unknown) => void, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  /** Commit everything queued now (also used at shutdown). */
  flush(): void {
    this.scheduled = false;
    const jobs = this.queue;
    if (jobs.length === 0) return;
    this.queue = [];
    // a job that throws fails alone; jobs are single statements (or harmless if cut short), so no savepoint each
    const outcomes: Array<{ ok: true; value: unknown } | { ok: false; error: unknown }> = [];
    try {
      this.db.transaction(() => {
        for (const job of jobs) {
          try {
            outcomes.push({ ok: true, value: job.run() });
          } catch (error) {
            outcomes.push({ ok: false, error });
          }
        }
      });
    } catch (err) {
      for (const job of jobs) job.reject(err);
      return;
    }
    jobs.forEach((job, i) => {
      const o = outcomes[i]!;
      if (o.ok) job.resolve(o.value);
      else job.reject(o.error);
    });
  }
}
