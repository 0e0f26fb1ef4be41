/**
 * RADIUS as one thread serves it: its own store connection, user cache, password backends, client table and sockets.
 * A node runs several of these, one per RADIUS worker thread (workers/radius-thread.ts), each with its own socket per
 * listen address on the same port (SO_REUSEPORT: the kernel spreads datagrams by source address and port). What must
 * hold across threads — one Accept per code, the lockout count, challenges — lives in the state database.
 */
import type { NodeConfig, Settings } from '@otpgate/shared';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import type { Store } from '../store/store.js';
import { AuthRepository } from '../store/auth-repository.js';
import type { StoreHealth } from '../store/store-health.js';
import { BackendRegistry } from '../backends/registry.js';
import { createAuthPorts } from '../auth/ports.js';
import { ConfigWatcher } from '../config-watcher.js';
import { StepClaimer } from '../cluster/step-claimer.js';
import { loadDictionary } from './dictionary.js';
import { ClientTable } from './client-table.js';
import { ReplyAttributeEncoder } from './reply-attributes.js';
import { createAccessHandler } from './access-handler.js';
import { RadiusServer } from './server.js';
import type { ListenAddress } from '@otpgate/shared';
import { availableParallelism } from 'node:os';
import { HeldPushes } from '../push/held-pushes.js';
import { NO_PUSH_CHANNEL, localPushChannel, masterPushChannel } from '../push/push-channels.js';

/** How often a thread asks which pushes were decided while it holds logins: an approval arrives within a second. */
const PUSH_POLL_MS = { master: 250, replica: 500 };
/** Past a push's timeout, how long a held login still waits for an approval given in its last moment. */
const PUSH_GRACE_MS = 1500;

/** How often a thread looks whether replicas follow its master (steps then go into the change log). */
const PUBLISH_CHECK_MS = 2000;

export interface RadiusServiceOptions {
  config: NodeConfig;
  /** Where to listen: the config's addresses, or the ports the first worker was given for port 0. */
  listen: readonly ListenAddress[];
  store: Store;
  logger: Logger;
  metrics: Metrics;
  health: StoreHealth;
  node: string;
}

export class RadiusService {
  readonly repository: AuthRepository;
  readonly server: RadiusServer;
  private readonly backends: BackendRegistry;
  private readonly attributes: ReplyAttributeEncoder;
  private readonly watcher: ConfigWatcher;
  private readonly claimer: StepClaimer | undefined;
  readonly pushes: HeldPushes;
  private timer: NodeJS.Timeout | undefined;
  private clients = new ClientTable([]);
  private settings: Settings;

  constructor(private readonly options: RadiusServiceOptions) {
    const { config, store, logger, metrics } = options;
    this.settings = store.settings();
    const settings = () => this.settings;
    this.repository = new AuthRepository(store, settings, { maxCachedUsers: config.radius.user_cache_size, health: options.health });
    this.backends = new BackendRegistry(logger, metrics);
    this.attributes = new ReplyAttributeEncoder(loadDictionary(config.radius.dictionaries), logger);
    this.watcher = new ConfigWatcher(store, logger, () => this.reload());
    const claims = config.cluster.replay_claim;
    const masterUrl = store.getMeta('master_url');
    // also with replay claims off: a replica asks the master for every one-time VPN credential
    this.claimer =
      store.role === 'replica' && masterUrl
        ? new StepClaimer(store, masterUrl, claims, config.cluster.claim_timeout_ms, logger, metrics)
        : undefined;
    const master = store.role === 'master';
    const channel = master ? localPushChannel(this.repository, settings) : this.claimer ? masterPushChannel(this.claimer) : NO_PUSH_CHANNEL;
    // radius.max_held_pushes is the node's: each thread holds its share
    const threads = config.radius.workers ?? availableParallelism();
    this.pushes = new HeldPushes(channel, {
      maxHeld: Math.max(1, Math.floor(config.radius.max_held_pushes / threads)),
      pollMs: master ? PUSH_POLL_MS.master : PUSH_POLL_MS.replica,
      graceMs: PUSH_GRACE_MS,
      logger,
      meter: metrics,
    });
    const ports = createAuthPorts({ repository: this.repository, backends: this.backends, metrics, logger, settings, claimer: this.claimer, pushes: this.pushes });
    this.server = new RadiusServer({
      listen: options.listen,
      reusePort: true,
      receiveBufferBytes: config.radius.receive_buffer_bytes,
      duplicateCacheSeconds: config.radius.duplicate_cache_seconds,
      unknownClientLogIntervalSeconds: config.radius.unknown_client_log_interval_seconds,
      clients: () => this.clients,
      handler: createAccessHandler({
        ports,
        attributes: this.attributes,
        audit: (record) => this.repository.logAuth(record),
        logger,
        metrics,
        node: options.node,
        settings,
      }),
      logger,
      metrics,
      storeHealth: options.health,
    });
  }

  private reload(): void {
    const { store, logger } = this.options;
    this.settings = store.settings();
    this.backends.configure(this.settings);
    this.attributes.setGroups(store.readAll('group'));
    this.clients = ClientTable.fromRecords(store.readAll('client'), (c, problem) => logger.error({ client: c.name, problem }, 'RADIUS client skipped'));
  }

  get clientCount(): number {
    return this.clients.clients.length;
  }

  async start(): Promise<void> {
    this.watcher.start();
    // a master publishes the steps used here once a replica follows it (enrolled by the CLI meanwhile, say)
    this.timer = setInterval(() => this.options.store.refreshPublishSteps(), PUBLISH_CHECK_MS);
    this.timer.unref();
    this.claimer?.warmUp();
    await this.server.start();
    void this.repository.users.warm().then((users) => this.options.logger.debug({ event: 'user-cache-warm', users }, `${users} users in memory`));
  }

  /** Answer what is in flight (up to `graceMs`), store what it used, then close. */
  async stop(graceMs?: number): Promise<void> {
    this.watcher.stop();
    clearInterval(this.timer);
    this.repository.users.stopWarming();
    // held logins are answered (Reject) rather than waited for: the stop must not take a push's timeout
    this.pushes.close();
    await this.server.stop(graceMs);
    this.repository.close();
    await this.backends.close();
    await this.claimer?.close();
  }
}
