/**
 * A serving node's main thread: the store, the RADIUS worker threads, the metrics, and what runs beside RADIUS (a
 * master publishing used steps to its replicas, retention). RADIUS itself runs in the worker threads
 * (workers/radius-workers.ts), so nothing this thread does — an import committed from the admin UI, a snapshot applied
 * on a replica, a backup — holds up an answer. Settings are held in memory and reloaded when the change log says so,
 * for the password backends the admin UI and the portal use.
 */
import { availableParallelism } from 'node:os';
import { AggregatorRegistry } from 'prom-client';
import type { NodeConfig, Settings } from '@otpgate/shared';
import { LogLimiter, createLogger, type Logger } from './logger.js';
import { Metrics } from './metrics.js';
import { Store } from './store/store.js';
import { AuthRepository } from './store/auth-repository.js';
import { StoreHealth, describeWriteError } from './store/store-health.js';
import { publishSteps } from './store/token-state.js';
import { publishLocks } from './store/lockouts.js';
import { scheduleRetention, type RetentionJob } from './store/retention.js';
import { pruneState } from './store/state-housekeeping.js';
import { scheduleAuthLogRollup } from './store/auth-buckets.js';
import { scheduleStateCheckpoints } from './store/state-checkpoints.js';
import { BackendRegistry } from './backends/registry.js';
import { ConfigWatcher } from './config-watcher.js';
import { RadiusWorkers } from './workers/radius-workers.js';
import { stopStoreJobs } from './workers/store-job.js';
import { VERSION, nodeName } from './node-name.js';

export { VERSION, nodeName };

/** How often a master puts the steps used here into its change log (replicas learn them a long poll later). */
const PUBLISH_INTERVAL_MS = 50;
/** Users the main thread keeps in memory: it only signs in admins and portal users. */
const MAIN_THREAD_CACHED_USERS = 1000;

export interface NodeOpenOptions {
  logger?: Logger;
  /** Where the worker threads' log lines go (default: stdout). */
  forwardLog?: (line: string) => void;
  /** The RADIUS threads' script (tests that run from the sources give a stand-in). */
  radiusScript?: URL;
}

export class OtpgateNode {
  readonly metrics = new Metrics();
  /** The store as the admin UI and the portal use it to check a code (RADIUS threads have their own). */
  readonly repository: AuthRepository;
  /** Whether this thread's writes to the state database work (the RADIUS threads report their own). */
  readonly storeHealth: StoreHealth;
  readonly backends: BackendRegistry;
  readonly radius: RadiusWorkers;
  readonly name: string;
  private currentSettings: Settings;
  private readonly watcher: ConfigWatcher;
  private timers: NodeJS.Timeout[] = [];
  private retention: RetentionJob | undefined;
  /** The auth log counted per 5 minutes for the dashboard's charts (auth-buckets.ts). */
  private rollup: RetentionJob | undefined;
  private checkpoints: { stop(): void } | undefined;
  private readonly publishFailures = new LogLimiter(60_000);

  private constructor(
    readonly config: NodeConfig,
    readonly store: Store,
    readonly logger: Logger,
    /** Writes a line another thread logged where this thread's lines go. */
    readonly forwardLog: (line: string) => void,
    radiusScript?: URL,
  ) {
    this.name = nodeName(config);
    this.currentSettings = store.settings();
    this.storeHealth = new StoreHealth(logger, (writable) => this.metrics.storeWritable.set(writable ? 1 : 0));
    this.repository = new AuthRepository(store, () => this.currentSettings, { maxCachedUsers: MAIN_THREAD_CACHED_USERS, health: this.storeHealth });
    this.backends = new BackendRegistry(logger, this.metrics);
    this.watcher = new ConfigWatcher(store, logger, () => {
      this.currentSettings = store.settings();
      this.backends.configure(this.currentSettings);
    });
    this.radius = new RadiusWorkers({
      config,
      count: config.radius.workers ?? availableParallelism(),
      logger,
      metrics: this.metrics,
      forwardLog,
      // the threads keep quiet about it: one line a minute for the whole node, and one when it works again
      onStoreChange: (problem) => {
        if (problem) this.storeHealth.logFailure(problem.reason);
        else logger.warn({ event: 'store-writable' }, 'the state database is writable again');
      },
      script: radiusScript,
    });
    this.metrics.info.set({ node: this.name, role: store.role, version: VERSION }, 1);
  }

  /** Open the store and build the node; nothing listens until start(). */
  static async open(config: NodeConfig, options: NodeOpenOptions = {}): Promise<OtpgateNode> {
    const logger = options.logger ?? createLogger(config.log.level, nodeName(config));
    const store = await Store.open(config.node.data_dir);
    return new OtpgateNode(config, store, logger, options.forwardLog ?? ((line) => void process.stdout.write(line)), options.radiusScript);
  }

  /** Serve RADIUS; configuration changes (from this process or another) are picked up as they land. */
  async start(): Promise<void> {
    this.watcher.start();
    await this.radius.start();
    // the auth log and the state database's other rows, pruned in the background in small chunks
    this.retention = scheduleRetention(
      this.store.state,
      this.logger,
      { table: 'auth_log', timeColumn: 'at', maxAgeMs: this.config.log.auth_log_days * 86_400_000, maxRows: this.config.log.auth_log_max_rows },
      { also: () => pruneState(this.store).then(() => undefined) },
    );
    this.rollup = scheduleAuthLogRollup(this.store, this.logger);
    this.checkpoints = scheduleStateCheckpoints(this.store.state, this.logger);
    if (this.store.role === 'master') this.timers.push(setInterval(() => this.publishSteps(), PUBLISH_INTERVAL_MS));
    for (const t of this.timers) t.unref();
    this.logger.info({ role: this.store.role, version: VERSION, workers: this.radius.status().listening }, 'otpgate node started');
  }

  /** Why the state database cannot be written now, by this thread or a RADIUS thread; undefined while it can. */
  storeProblem(): { reason: string; since: number } | undefined {
    return this.storeHealth.problem ?? this.radius.storeProblem();
  }

  get settings(): Settings {
    return this.currentSettings;
  }

  /** The node's metrics in Prometheus' text format: this thread's and every RADIUS thread's, added up. */
  async metricsText(): Promise<string> {
    const threads = await this.radius.threadMetrics();
    const own = await this.metrics.registry.getMetricsAsJSON();
    return AggregatorRegistry.aggregate([own, ...threads] as never).metrics();
  }

  /** Master: steps used here and locks set here go into the change log for the replicas (token-state.ts, lockouts.ts). */
  private publishSteps(): void {
    try {
      // the configuration database may be locked by a long admin write (an import): the steps and locks stay
      // marked and go out on a later tick, without this thread waiting for the lock
      this.store.db.tryWrite(() => {
        publishSteps(this.store);
        publishLocks(this.store);
      });
    } catch (err) {
      // a busy lock is skipped by tryWrite; anything else (a full disk) would fail every 50 ms until fixed: one line a minute
      if (this.publishFailures.allow('publish')) {
        this.logger.warn(
          { event: 'step-publish-failed', err: describeWriteError(err) },
          `publishing used steps to the replicas failed: ${describeWriteError(err)}; they go out once it works (at most one line a minute)`,
        );
      }
    }
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    // a long write in a thread of its own (an import from the admin UI) ends now, rolled back
    await stopStoreJobs();
    this.watcher.stop();
    await this.radius.stop();
    await this.retention?.stop();
    await this.rollup?.stop();
    this.checkpoints?.stop();
    this.repository.close();
    if (this.store.role === 'master') this.publishSteps();
    await this.backends.close();
    this.store.close();
    this.logger.info('otpgate node stopped');
    this.logger.flush();
  }
}
