/** Start and stop the node's checkpoint thread (checkpoint-thread.ts), and log what it reports. */
import { Worker } from 'node:worker_threads';
import { join } from 'node:path';
import { errorMessage } from '@otpgate/shared';
import { LogLimiter, type Logger } from '../logger.js';
import { DATA_FILES } from '../store/store.js';
import type { CheckpointFailure, CheckpointThreadData } from './checkpoint-thread.js';

/** Often enough that the log stays small under steady RADIUS traffic; a round with nothing to copy costs microseconds. */
export const CHECKPOINT_INTERVAL_MS = 1000;

/** The thread's compiled module, also where the tests run this one from its source. */
const THREAD_SCRIPT = import.meta.url.endsWith('.ts') ? '../../dist/workers/checkpoint-thread.js' : './checkpoint-thread.js';

/** A thread that died is started again after this long (serving connections never checkpoint: someone must). */
const RESTART_DELAY_MS = 5000;

export class Checkpoints {
  private worker: Worker | undefined;
  private restart: NodeJS.Timeout | undefined;
  private stopping = false;
  private readonly limiter = new LogLimiter(60_000);

  private constructor(
    private readonly data: CheckpointThreadData,
    private readonly logger: Logger,
  ) {}

  static start(dataDir: string, logger: Logger): Checkpoints {
    const checkpoints = new Checkpoints({ files: [join(dataDir, DATA_FILES.database), join(dataDir, DATA_FILES.state)], intervalMs: CHECKPOINT_INTERVAL_MS }, logger);
    checkpoints.spawn();
    return checkpoints;
  }

  private spawn(): void {
    const worker = new Worker(new URL(THREAD_SCRIPT, import.meta.url), { workerData: this.data });
    worker.on('message', (failure: CheckpointFailure) => {
      if (!this.limiter.allow(failure.file)) return;
      this.logger.warn(
        { event: 'checkpoint-failed', file: failure.file, err: failure.error },
        `could not checkpoint ${failure.file}: ${failure.error}; its write-ahead log grows until this works (at most one line a minute)`,
      );
    });
    worker.on('error', (err: unknown) => {
      if (this.limiter.allow('thread')) {
        const reason = errorMessage(err);
        this.logger.error({ event: 'checkpoint-thread-failed', err: reason }, `the checkpoint thread stopped (${reason}); it is started again in ${RESTART_DELAY_MS / 1000} s`);
      }
    });
    worker.on('exit', () => {
      this.worker = undefined;
      if (this.stopping) return;
      this.restart = setTimeout(() => this.spawn(), RESTART_DELAY_MS);
      this.restart.unref();
    });
    worker.unref();
    this.worker = worker;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.restart);
    const worker = this.worker;
    if (!worker) return;
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    // held by the thread until it has gone: unreferenced, a process with nothing else left would end before the
    // caller's next step (the reason a failed start gives)
    worker.ref();
    worker.postMessage('stop');
    await exited;
  }
}
