import { Agent, request, type Dispatcher } from 'undici';
import { importJWK, type JWK } from 'jose';
import {
  FEED_SIGNATURE_HEADER,
  FeedError,
  changeBatchSchema,
  parseFeedBody,
  snapshotSchema,
  verifyChain,
  verifyFeed,
  type ChangeBatch,
  type NodeConfig,
} from '@otpgate/shared';
import { ClusterFiles, ReplicationDataError, applyEntries, applySnapshot, storeWriteProblem, type Logger, type Metrics, type Store } from '@otpgate/core';
import { MasterConnectionError, connectionError } from './master-connection.js';

type VerifyKey = Exclude<Awaited<ReturnType<typeof importJWK>>, Uint8Array>;


/**
 * Follows the master's feed: the first sync (or any re-sync) takes a snapshot, then changes are long-polled and
 * applied batch by batch. Every response is verified (signature, cluster, chain) before anything is applied; a bad
 * one is refused, counted and logged, the node keeps serving its last good state and tries again with backoff.
 */
export class FeedClient {
  private readonly agent: Agent;
  private running = false;
  private loop: Promise<void> | undefined;
  private failures = 0;
  private wakeSleep: (() => void) | undefined;
  private firstSyncWaiters: Array<() => void> = [];
  private contactTimer: NodeJS.Timeout | undefined;
  readonly masterUrl: string;
  private readonly clusterId: string;

  constructor(
    private readonly store: Store,
    private readonly config: NodeConfig,
    private readonly logger: Logger,
    private readonly metrics: Metrics,
    private readonly key: VerifyKey,
  ) {
    const files = new ClusterFiles(store.dataDir);
    this.masterUrl = store.getMeta('master_url')!;
    this.clusterId = store.getMeta('cluster_id')!;
    // strict TLS: the master must present a certificate of the pinned cluster CA for the URL's host; never relaxed
    this.agent = new Agent({
      connect: {
        ca: files.read('caCert'),
        cert: files.read('clientCert'),
        key: files.read('clientKey'),
        rejectUnauthorized: true,
        minVersion: 'TLSv1.2',
      },
      headersTimeout: (config.cluster.poll_seconds + 15) * 1000,
      bodyTimeout: 120_000,
    });
  }

  static async create(store: Store, config: NodeConfig, logger: Logger, metrics: Metrics): Promise<FeedClient> {
    const jwk = JSON.parse(new ClusterFiles(store.dataDir).read('feedPublicKey')) as JWK;
    const key = await importJWK(jwk, 'EdDSA');
    if (key instanceof Uint8Array) throw new Error('the feed public key is not an Ed25519 key');
    return new FeedClient(store, config, logger, metrics, key);
  }

  get synced(): boolean {
    return this.store.head().seq > 0 || this.store.getMeta('last_contact_at') !== undefined;
  }

  start(): void {
    this.running = true;
    this.metrics.appliedSeq.set(this.store.head().seq);
    this.contactTimer = setInterval(() => {
      const contact = this.store.getMeta('last_contact_at');
      if (contact) this.metrics.sinceContact.set((Date.now() - Number(contact)) / 1000);
    }, 1000);
    this.contactTimer.unref();
    this.loop = this.run();
  }

  /** Resolves once the node holds the master's state (at once when it already did before this start). */
  firstSync(): Promise<void> {
    if (this.synced) return Promise.resolve();
    return new Promise((resolve) => this.firstSyncWaiters.push(resolve));
  }

  async stop(): Promise<void> {
    this.running = false;
    clearInterval(this.contactTimer);
    this.wakeSleep?.();
    await this.agent.destroy();
    await this.loop;
  }

  private async run(): Promise<void> {
    let needSnapshot = this.store.head().seq === 0;
    while (this.running) {
      try {
        if (needSnapshot) {
          await this.syncSnapshot();
          needSnapshot = false;
        }
        await this.pollOnce();
        this.failures = 0;
      } catch (err) {
        if (!this.running) return;
        if (err instanceof FeedError && err.resync) {
          this.fail(err.reason, `${err.message}; re-syncing from a fresh snapshot`);
          needSnapshot = true;
          continue;
        }
        // this node's disk refusing the write (full, I/O error) is neither the master's fault nor the network's
        const unwritable = storeWriteProblem(err);
        const reason =
          err instanceof FeedError || err instanceof MasterConnectionError
            ? err.reason
            : err instanceof ReplicationDataError
              ? 'malformed'
              : unwritable
                ? 'store-unwritable'
                : 'unreachable';
        this.fail(reason, unwritable ? `cannot store what the master sent: ${unwritable}; the last good state stays in service` : (err as Error).message);
        this.failures++;
        const delay = Math.min(this.config.cluster.max_retry_seconds * 1000, 250 * 2 ** Math.min(this.failures, 10));
        await this.sleep(delay * (0.75 + Math.random() * 0.5));
      }
    }
  }

  private fail(reason: string, message: string): void {
    this.metrics.feedFailures.inc({ reason });
    try {
      this.store.setMeta('last_feed_error', `${new Date().toISOString()} ${reason}: ${message}`);
    } catch {
      // a full disk refuses this too: the log line below still says it, and the loop must go on to retry
    }
    // a certificate that fails verification is not an outage: something else answers as the master
    const level = reason === 'tls-verification' ? 'error' : 'warn';
    this.logger[level]({ event: 'replication-failure', reason, master: this.masterUrl, err: message }, `replication: ${message}`);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wakeSleep = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  /**
   * Fetch and verify; `timings` (when given) gets the fetch and the signature check's durations. `close`: do not keep
   * the connection for the next request (after a snapshot: applying a large one blocks this process for longer than
   * the master keeps an idle connection open, and the next poll would go out on a connection the master has closed).
   */
  private async fetchSigned(path: string, timings?: { fetch_ms: number; verify_ms: number }, close = false): Promise<Buffer> {
    const started = performance.now();
    let response: Dispatcher.ResponseData;
    try {
      response = await request(new URL(path, this.masterUrl), { dispatcher: this.agent, method: 'GET', reset: close });
    } catch (err) {
      throw connectionError(this.masterUrl, err);
    }
    const body = Buffer.from(await response.body.arrayBuffer());
    if (response.statusCode !== 200) {
      let detail = body.toString('utf8').slice(0, 300);
      try {
        detail = (JSON.parse(detail) as { error?: string }).error ?? detail;
      } catch {
        // not JSON: show it as it came
      }
      // 401/403: the master does not accept this replica (removed, or never enrolled); re-enrolling is the way back
      const reason = response.statusCode === 401 || response.statusCode === 403 ? 'refused' : 'unreachable';
      throw new MasterConnectionError(reason, `the master answered ${response.statusCode}: ${detail}`);
    }
    const fetched = performance.now();
    const signature = response.headers[FEED_SIGNATURE_HEADER];
    await verifyFeed(body, Array.isArray(signature) ? signature[0] : signature, this.key, this.clusterId);
    if (timings) {
      timings.fetch_ms = Math.round(fetched - started);
      timings.verify_ms = Math.round(performance.now() - fetched);
    }
    return body;
  }

  private async syncSnapshot(): Promise<void> {
    const started = performance.now();
    const timings = { fetch_ms: 0, verify_ms: 0 };
    const body = await this.fetchSigned('/v1/snapshot', timings, true);
    const parsing = performance.now();
    const snapshot = parseFeedBody(snapshotSchema, body, this.clusterId);
    const applying = performance.now();
    applySnapshot(this.store, snapshot);
    const applied = performance.now();
    this.metrics.snapshots.inc();
    this.contact(snapshot.head.seq);
    const users = snapshot.records.user?.length ?? 0;
    this.logger.info(
      {
        event: 'replication-snapshot',
        seq: snapshot.head.seq,
        users,
        bytes: body.length,
        ms: Math.round(performance.now() - started),
        // fetch: request to body received (the master builds it meanwhile); parse: JSON and envelope;
        // apply: every record validated, then written in one transaction
        ...timings,
        parse_ms: Math.round(applying - parsing),
        apply_ms: Math.round(applied - applying),
      },
      `applied a snapshot of the master at change ${snapshot.head.seq} (${users} users)`,
    );
    for (const resolve of this.firstSyncWaiters.splice(0)) resolve();
  }

  private async pollOnce(): Promise<void> {
    const head = this.store.head();
    const body = await this.fetchSigned(`/v1/changes?after=${head.seq}&wait=${this.config.cluster.poll_seconds}`);
    const batch: ChangeBatch = parseFeedBody(changeBatchSchema, body, this.clusterId);
    if (batch.resync) throw new FeedError('resync-requested', `the master asks for a re-sync: ${batch.resync}`);
    if (batch.after !== head.seq) throw new FeedError('malformed', `asked for changes after ${head.seq}, got changes after ${batch.after}`);
    if (batch.after_hash !== null && batch.after_hash !== head.hash) {
      throw new FeedError('chain-mismatch', `the master's change ${head.seq} differs from this node's (the master's history changed)`);
    }
    const newHead = verifyChain(batch.entries, head);
    let lagSeconds = 0;
    if (batch.entries.length > 0) {
      applyEntries(this.store, batch.entries);
      const last = batch.entries[batch.entries.length - 1]!;
      this.logger.debug(
        { event: 'replication-applied', from: batch.entries[0]!.seq, to: newHead.seq, lag_ms: Date.now() - last.at },
        'applied changes from the master',
      );
      lagSeconds = newHead.seq < batch.head.seq ? Math.max(0, (Date.now() - last.at) / 1000) : 0;
    }
    this.contact(batch.head.seq, lagSeconds);
  }

  private contact(masterHead: number, lagSeconds = 0): void {
    const applied = this.store.head().seq;
    this.metrics.lagSeconds.set(lagSeconds);
    this.store.setMeta('last_contact_at', String(Date.now()));
    this.store.setMeta('master_head_seq', String(masterHead));
    // kept in the store too: /readyz and `otpgate status` (another process) judge the lag against the budget
    this.store.setMeta('lag_seconds', String(Math.round(lagSeconds * 10) / 10));
    this.metrics.appliedSeq.set(applied);
    this.metrics.lagEntries.set(Math.max(0, masterHead - applied));
    this.metrics.sinceContact.set(0);
  }
}
