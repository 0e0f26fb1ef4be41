import { hostname } from 'node:os';
import type { NodeConfig, Settings } from '@otpgate/shared';
import { LogLimiter, createLogger, type Logger } from './logger.js';
import { Metrics } from './metrics.js';
import { Store } from './store/store.js';
import { AuthRepository } from './store/auth-repository.js';
import { StoreHealth, describeWriteError, isBusyError } from './store/store-health.js';
import { publishSteps } from './store/token-state.js';
import { scheduleRetention, type RetentionJob } from './store/retention.js';
import { pruneState } from './store/state-housekeeping.js';
import { logBase } from './store/change-log.js';
import { BackendRegistry } from './backends/registry.js';
import { createAuthPorts } from './auth/ports.js';
import { loadDictionary, type Dictionary } from './radius/dictionary.js';
import { ClientTable } from './radius/client-table.js';
import { ReplyAttributeEncoder } from './radius/reply-attributes.js';
import { createAccessHandler } from './radius/access-handler.js';
import { RadiusServer } from './radius/server.js';

export const VERSION = '0.1.0';

/** How soon a change made by another process (the CLI) to clients, groups or settings takes effect here. */
const RELOAD_INTERVAL_MS = 50;
/** How often a master puts the steps used here into its change log (replicas learn them a long poll later). */
const PUBLISH_INTERVAL_MS = 50;

export function nodeName(config: NodeConfig): string {
  return config.node.name ?? hostname();
}

/**
 * A serving node: store + RADIUS + metrics. Clients, groups and settings are held in memory and reloaded when the
 * change log moves (an admin change from the CLI, the UI or the master's feed); users and tokens are read per request.
 */
export class OtpgateNode {
  readonly metrics = new Metrics();
  readonly repository: AuthRepository;
  /** Whether the state database takes writes (readiness, and the alert). */
  readonly storeHealth: StoreHealth;
  readonly backends: BackendRegistry;
  readonly radius: RadiusServer;
  readonly name: string;
  private clients: ClientTable = new ClientTable([]);
  private currentSettings: Settings;
  private readonly attributes: ReplyAttributeEncoder;
  private loadedVersion = '';
  private timers: NodeJS.Timeout[] = [];
  private unsubscribe: (() => void) | undefined;
  private retention: RetentionJob | undefined;
  private readonly publishFailures = new LogLimiter(60_000);

  private constructor(
    readonly config: NodeConfig,
    readonly store: Store,
    readonly logger: Logger,
    dictionary: Dictionary,
  ) {
    this.name = nodeName(config);
    this.currentSettings = store.settings();
    this.storeHealth = new StoreHealth(logger, (writable) => this.metrics.storeWritable.set(writable ? 1 : 0));
    this.repository = new AuthRepository(store, () => this.currentSettings, {
      maxCachedUsers: config.radius.user_cache_size,
      health: this.storeHealth,
    });
    this.attributes = new ReplyAttributeEncoder(dictionary, logger);
    const settings = () => this.currentSettings;
    this.backends = new BackendRegistry(logger, this.metrics);
    this.backends.configure(this.currentSettings);
    const ports = createAuthPorts({ repository: this.repository, backends: this.backends, metrics: this.metrics, logger, settings });
    this.radius = new RadiusServer({
      listen: config.radius.listen,
      receiveBufferBytes: config.radius.receive_buffer_bytes,
      duplicateCacheSeconds: config.radius.duplicate_cache_seconds,
      unknownClientLogIntervalSeconds: config.radius.unknown_client_log_interval_seconds,
      clients: () => this.clients,
      handler: createAccessHandler({
        ports,
        attributes: this.attributes,
        audit: (record) => this.repository.logAuth(record),
        logger,
        metrics: this.metrics,
        node: this.name,
        settings,
      }),
      logger,
      metrics: this.metrics,
      storeHealth: this.storeHealth,
    });
    this.metrics.info.set({ node: this.name, role: store.role, version: VERSION }, 1);
  }

  /** Open the store and build the node; nothing listens until start(). */
  static async open(config: NodeConfig, options: { logger?: Logger } = {}): Promise<OtpgateNode> {
    const logger = options.logger ?? createLogger(config.log.level, nodeName(config));
    const store = await Store.open(config.node.data_dir);
    return new OtpgateNode(config, store, logger, loadDictionary(config.radius.dictionaries));
  }

  /** Open and start in one step (a standalone master). */
  static async start(config: NodeConfig, options: { logger?: Logger } = {}): Promise<OtpgateNode> {
    const node = await OtpgateNode.open(config, options);
    try {
      await node.start();
    } catch (err) {
      node.store.close();
      throw err;
    }
    return node;
  }

  /** Serve RADIUS; configuration changes (from this process or another) are picked up as they land. */
  async start(): Promise<void> {
    this.reload();
    await this.radius.start();
    this.unsubscribe = this.store.onChange(() => this.reloadIfChanged());
    this.timers.push(setInterval(() => this.reloadIfChanged(), RELOAD_INTERVAL_MS));
    // the auth log and the state database's other rows, pruned in the background in small chunks
    this.retention = scheduleRetention(this.store.state, this.logger, {
      table: 'auth_log',
      timeColumn: 'at',
      maxAgeMs: this.config.log.auth_log_days * 86_400_000,
      maxRows: this.config.log.auth_log_max_rows,
    }, { also: () => pruneState(this.store).then(() => undefined) });
    if (this.store.role === 'master') this.timers.push(setInterval(() => this.publishSteps(), PUBLISH_INTERVAL_MS));
    for (const t of this.timers) t.unref();
    this.logger.info({ role: this.store.role, version: VERSION, clients: this.clients.clients.length }, 'otpgate node started');
  }

  get settings(): Settings {
    return this.currentSettings;
  }

  /**
   * Changes when clients, groups or settings change (or a snapshot replaced everything); accepted codes, which also
   * move the change log, do not cause a reload.
   */
  private configVersion(): string {
    const db = this.store.db;
    const row = db.first(
      db.q.selectFrom('changes').select((eb) => eb.fn.max('seq').as('seq')).where('entity', 'in', ['client', 'group', 'settings']),
    );
    return `${row?.seq ?? 0}:${logBase(db).seq}`;
  }

  /** Re-read clients, groups and settings. A bad entry is logged and skipped, never fatal. */
  reload(): void {
    this.loadedVersion = this.configVersion();
    this.currentSettings = this.store.settings();
    this.backends.configure(this.currentSettings);
    this.attributes.setGroups(this.store.readAll('group'));
    this.clients = ClientTable.fromRecords(this.store.readAll('client'), (c, problem) =>
      this.logger.error({ client: c.name, problem }, 'RADIUS client skipped'),
    );
    this.logger.debug({ event: 'config-reloaded', version: this.loadedVersion }, 'clients, groups and settings reloaded');
  }

  private reloadIfChanged(): void {
    try {
      if (this.configVersion() !== this.loadedVersion) this.reload();
    } catch (err) {
      this.logger.error({ err: (err as Error).message }, 'reloading configuration from the store failed');
    }
  }

  /** Master: steps used here go into the change log for the replicas (see token-state.ts). */
  private publishSteps(): void {
    try {
      publishSteps(this.store);
    } catch (err) {
      // the configuration database may be locked by a long admin write: the steps stay marked and go out next time;
      // anything else (a full disk) would fail every 50 ms until fixed: one line a minute
      if (!isBusyError(err) && this.publishFailures.allow('publish')) {
        this.logger.warn(
          { event: 'step-publish-failed', err: describeWriteError(err) },
          `publishing used steps to the replicas failed: ${describeWriteError(err)}; they go out once it works (at most one line a minute)`,
        );
      }
    }
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    await this.retention?.stop();
    this.unsubscribe?.();
    await this.radius.stop();
    this.repository.flush();
    if (this.store.role === 'master') this.publishSteps();
    await this.backends.close();
    this.store.close();
    this.logger.info('otpgate node stopped');
    this.logger.flush();
  }
}
