/**
 * The node's RADIUS worker threads, from the main thread: N of them (radius.workers, default the number of cores), each
 * with its own socket per listen address on the same port. The first one binds the configured addresses; the ports it
 * gets (port 0: any free one) are the ones the others, and any restarted one, bind. A thread that dies is started
 * again after a pause that grows while it keeps dying; meanwhile the others serve, and /readyz and the metrics say so.
 * Log lines come over to the main thread's logger; metrics are asked of each thread at scrape time and added up.
 */
import { Worker } from 'node:worker_threads';
import { formatListenAddress, type ListenAddress, type NodeConfig, errorMessage } from '@otpgate/shared';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { RadiusBindError } from '../radius/server.js';
import type { FromThread, RadiusThreadData, ThreadMetrics, ToThread } from './messages.js';

const RESTART_DELAYS_MS = [500, 1000, 2000, 5000, 10_000, 30_000];
/** A thread that served this long before dying starts its next life with the shortest pause. */
const STABLE_MS = 60_000;
const METRICS_TIMEOUT_MS = 2000;
/**
 * Each RADIUS thread's young generation (V8's nursery for new objects), in MiB. V8's default lets it grow under load to
 * 48 MiB or more per thread and keeps it: at 20,000 users that was most of the gap between the node's peak RSS and
 * FreeRADIUS's (engine load, two threads: 400 MiB peak by default, 315 MiB with 12). A request's objects live for a
 * turn or two of the event loop, so a small nursery costs only more frequent small scavenges: about 3 % more CPU per
 * request in-process (bench/hot-path.ts with --max-semi-space-size=4, the same nursery), 10 % at half this size.
 */
const THREAD_YOUNG_GENERATION_MB = 12;

interface Slot {
  index: number;
  worker: Worker | undefined;
  listening: boolean;
  startedAt: number;
  failures: number;
  restartTimer: NodeJS.Timeout | undefined;
  lastExit: string | undefined;
  storeProblem: { reason: string; since: number } | undefined;
  /** What the thread bound, once it listens. */
  addresses: ListenAddress[];
}

export interface RadiusWorkersOptions {
  config: NodeConfig;
  count: number;
  logger: Logger;
  metrics: Metrics;
  /** Writes log lines a thread produced (whole JSON lines, each newline-terminated) where the node's own lines go. */
  forwardLog: (line: string) => void;
  /** The thread's script (tests give a stand-in). */
  script?: URL;
  /**
   * Whether the threads can write the state database changed: the reason one cannot, or undefined once all can
   * again (the threads do not log it themselves).
   */
  onStoreChange?: (problem: { reason: string; since: number } | undefined) => void;
}

export interface RadiusWorkersStatus {
  configured: number;
  listening: number;
  restarts: number;
  /** Why the last thread that died did. */
  lastExit: string | undefined;
}

export class RadiusWorkers {
  private readonly slots: Slot[];
  private resolved: ListenAddress[] = [];
  private stopping = false;
  private restarts = 0;
  private nextMetricsId = 0;
  private readonly pendingMetrics = new Map<number, (metrics: ThreadMetrics) => void>();

  constructor(private readonly options: RadiusWorkersOptions) {
    this.slots = Array.from({ length: Math.max(1, options.count) }, (_, i) => ({
      index: i + 1,
      worker: undefined,
      listening: false,
      startedAt: 0,
      failures: 0,
      restartTimer: undefined,
      lastExit: undefined,
      storeProblem: undefined,
      addresses: [],
    }));
    options.metrics.radiusWorkers.set(0);
  }

  /** Start every thread; resolves once all listen, rejects (with the first thread's reason) when none can. */
  async start(): Promise<void> {
    const [first, ...rest] = this.slots;
    await this.launch(first!, this.options.config.radius.listen);
    this.resolved = first!.addresses;
    await Promise.all(rest.map((slot) => this.launch(slot, this.resolved).catch((err: unknown) => this.scheduleRestart(slot, errorMessage(err)))));
    for (const address of this.resolved) {
      this.options.logger.info({ listen: formatListenAddress(address), workers: this.slots.length }, 'RADIUS listening');
    }
  }

  /** The addresses served while at least one thread listens. */
  addresses(): ListenAddress[] {
    return this.slots.some((s) => s.listening) ? this.resolved : [];
  }

  status(): RadiusWorkersStatus {
    const lastExit = this.slots.map((s) => s.lastExit).find((e) => e !== undefined);
    return { configured: this.slots.length, listening: this.slots.filter((s) => s.listening).length, restarts: this.restarts, lastExit };
  }

  /** A thread's reason for not writing the state database, when one cannot. */
  storeProblem(): { reason: string; since: number } | undefined {
    return this.slots.map((s) => s.storeProblem).find((p) => p !== undefined);
  }

  /** Each listening thread's metrics (a thread that does not answer in time is left out of this scrape). */
  async threadMetrics(): Promise<ThreadMetrics[]> {
    const asks = this.slots.filter((s) => s.listening && s.worker).map((s) => this.askMetrics(s.worker!));
    return (await Promise.all(asks)).filter((m): m is ThreadMetrics => m !== undefined);
  }

  /** Tell every thread to answer what it has in flight (up to `graceMs`) and stop; end those that do not. */
  async stop(graceMs = 10_000): Promise<void> {
    this.stopping = true;
    await Promise.all(
      this.slots.map(async (slot) => {
        clearTimeout(slot.restartTimer);
        const worker = slot.worker;
        if (!worker) return;
        const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
        this.post(worker, { type: 'stop', graceMs });
        const timer = setTimeout(() => void worker.terminate(), graceMs + 2000);
        await exited;
        clearTimeout(timer);
      }),
    );
  }

  private post(worker: Worker, message: ToThread): void {
    worker.postMessage(message);
  }

  private askMetrics(worker: Worker): Promise<ThreadMetrics | undefined> {
    const id = ++this.nextMetricsId;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pendingMetrics.delete(id);
        resolve(undefined);
      }, METRICS_TIMEOUT_MS);
      this.pendingMetrics.set(id, (metrics) => {
        clearTimeout(timer);
        resolve(metrics);
      });
      this.post(worker, { type: 'metrics', id });
    });
  }

  /** Start a thread in `slot`, resolving once it listens (rejecting with why it could not). */
  private launch(slot: Slot, listen: readonly ListenAddress[]): Promise<void> {
    const data: RadiusThreadData = { config: this.options.config, index: slot.index, listen: [...listen] };
    const worker = new Worker(this.options.script ?? new URL('./radius-thread.js', import.meta.url), {
      workerData: data,
      resourceLimits: { maxYoungGenerationSizeMb: THREAD_YOUNG_GENERATION_MB },
    });
    slot.worker = worker;
    slot.startedAt = Date.now();
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      worker.on('message', (message: FromThread) => {
        switch (message.type) {
          case 'log':
            this.options.forwardLog(message.text);
            break;
          case 'listening':
            slot.addresses = message.addresses;
            slot.listening = true;
            this.updateGauge();
            settled = true;
            resolve();
            break;
          case 'store': {
            const before = this.storeProblem();
            slot.storeProblem = message.problem;
            const after = this.storeProblem();
            if (after || before) this.options.onStoreChange?.(after);
            break;
          }
          case 'metrics':
            this.pendingMetrics.get(message.id)?.(message.metrics);
            this.pendingMetrics.delete(message.id);
            break;
          case 'failed':
            slot.lastExit = message.message;
            if (!settled) {
              settled = true;
              reject(new RadiusBindError(message.message));
            }
            break;
          case 'stopped':
            break;
        }
      });
      worker.on('error', (err: Error) => {
        slot.lastExit = `uncaught error: ${err.message}`;
        this.options.logger.error({ event: 'radius-worker-error', worker: slot.index, err: err.stack }, `RADIUS worker ${slot.index} failed: ${err.message}`);
      });
      worker.on('exit', (code) => {
        slot.worker = undefined;
        slot.listening = false;
        slot.storeProblem = undefined;
        this.updateGauge();
        if (!settled) {
          settled = true;
          reject(new RadiusBindError(slot.lastExit ?? `RADIUS worker ${slot.index} stopped with code ${code} before listening`));
          return;
        }
        if (this.stopping) return;
        this.scheduleRestart(slot, slot.lastExit ?? `exit code ${code}`);
      });
    });
  }

  private scheduleRestart(slot: Slot, reason: string): void {
    if (this.stopping) return;
    slot.lastExit = reason;
    if (Date.now() - slot.startedAt > STABLE_MS) slot.failures = 0;
    const delay = RESTART_DELAYS_MS[Math.min(slot.failures++, RESTART_DELAYS_MS.length - 1)]!;
    this.restarts++;
    this.options.metrics.radiusWorkerRestarts.inc();
    this.options.logger.error(
      { event: 'radius-worker-exit', worker: slot.index, reason, restart_in_ms: delay },
      `RADIUS worker ${slot.index} stopped (${reason}); starting it again in ${delay} ms, the others keep serving`,
    );
    slot.restartTimer = setTimeout(() => {
      this.launch(slot, this.resolved).catch((err: unknown) => this.scheduleRestart(slot, errorMessage(err)));
    }, delay);
    slot.restartTimer.unref();
  }

  private updateGauge(): void {
    this.options.metrics.radiusWorkers.set(this.slots.filter((s) => s.listening).length);
  }
}
