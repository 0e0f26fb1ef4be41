import { OtpgateError } from '@otpgate/shared';

/** Too many checks waiting, or one waited too long: the request is dropped, and the NAS retries. */
export class OverloadedError extends OtpgateError {
  constructor(message: string) {
    super('overloaded', message);
  }
}

/**
 * Bounded concurrency for slow work (argon2id runs on libuv's small thread pool): at most `concurrency` jobs run,
 * the rest wait in order, and a job that has waited longer than `maxWaitMs` is refused instead of started, because
 * the NAS that sent it has stopped waiting. Without this, a burst queues seconds of hashing for answers nobody reads.
 */
export class WorkQueue {
  private running = 0;
  private readonly waiting: Array<{ start: () => void; fail: (err: Error) => void; queuedAt: number }> = [];

  constructor(
    private readonly concurrency: number,
    private readonly maxQueue: number,
    private readonly maxWaitMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  get pending(): number {
    return this.running + this.waiting.length;
  }

  run<T>(job: () => Promise<T>): Promise<T> {
    if (this.waiting.length >= this.maxQueue) return Promise.reject(new OverloadedError(`${this.waiting.length} checks already waiting`));
    return new Promise<T>((resolve, reject) => {
      const start = () => {
        this.running++;
        job().then(resolve, reject).finally(() => {
          this.running--;
          this.next();
        });
      };
      if (this.running < this.concurrency) start();
      else this.waiting.push({ start, fail: reject, queuedAt: this.now() });
    });
  }

  private next(): void {
    while (this.running < this.concurrency && this.waiting.length > 0) {
      const item = this.waiting.shift()!;
      const waited = this.now() - item.queuedAt;
      if (waited > this.maxWaitMs) item.fail(new OverloadedError(`waited ${waited} ms for a free worker`));
      else item.start();
    }
  }
}
