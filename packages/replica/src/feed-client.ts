import { Agent, request, type Dispatcher } from 'undici';
import { importJWK, type JWK } from 'jose';
import {
  FEED_SIGNATURE_HEADER,
  FeedError,
  changeBatchSchema,
  newFeedNonce,
  parseFeedBody,
  snapshotSchema,
  verifyChain,
  verifyFeed,
  type ChangeBatch,
  type FeedBinding,
  type NodeConfig,
  type Snapshot,
} from '@otpgate/shared';
import {
  COMPACTION_KEEP_TAIL,
  ClusterFiles,
  ReplicationDataError,
  storeWriteProblem,
  applyEntries,
  applySnapshot,
  scheduleLogCompaction,
  type ChangeHead,
  type Logger,
  type Metrics,
  type RetentionJob,
  type Store,
} from '@otpgate/core';
import { MasterConnectionError, connectionError, masterTlsOptions } from './master-connection.js';
import { ALLOW_ROLLBACK_COMMAND, clearResyncRequest, resyncRequested, rollbackAllowed } from './resync-request.js';

type VerifyKey = Exclude<Awaited<ReturnType<typeof importJWK>>, Uint8Array>;

/** While a rollback is refused: the same error is logged once a minute at most; the permission is looked for every second. */
const ROLLBACK_LOG_MS = 60_000;
const PERMISSION_CHECK_MS = 1000;

/**
 * Follows the master's feed: the first sync (or any re-sync) takes a snapshot, then changes are long-polled and
 * applied batch by batch. Every response is verified (signature for this request's nonce, cluster, chain) before
 * anything is applied; a bad one is refused, counted and logged, the node keeps serving its last good state and tries
 * again with backoff. A master whose history went back (restored from a backup) is not followed until the operator
 * allows it (ALLOW_ROLLBACK_COMMAND): its snapshot would bring back deleted users and old admin password hashes.
 */
export class FeedClient {
  private readonly agent: Agent;
  private running = false;
  private loop: Promise<void> | undefined;
  private failures = 0;
  private rollbackLogged = { message: '', at: 0 };
  private wakeSleep: (() => void) | undefined;
  private firstSyncWaiters: Array<() => void> = [];
  private contactTimer: NodeJS.Timeout | undefined;
  private compaction: RetentionJob | undefined;
  readonly masterUrl: string;
  private readonly clusterId: string;

  constructor(
    private readonly store: Store,
    private readonly config: NodeConfig,
    private readonly logger: Logger,
    private readonly metrics: Metrics,
    private readonly key: VerifyKey,
  ) {
    this.masterUrl = store.getMeta('master_url')!;
    this.clusterId = store.getMeta('cluster_id')!;
    // strict TLS: the master must present a current certificate of the pinned cluster CA for the URL's host
    this.agent = new Agent({
      connect: masterTlsOptions(store),
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
    // this replica's copy of the log: nobody follows it, so the newest entries are all it keeps
    this.compaction = scheduleLogCompaction(this.store, this.logger, () => this.store.head().seq - COMPACTION_KEEP_TAIL);
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
    await this.compaction?.stop();
    this.wakeSleep?.();
    await this.agent.destroy();
    await this.loop;
  }

  private async run(): Promise<void> {
    let needSnapshot = this.store.head().seq === 0;
    while (this.running) {
      try {
        if (resyncRequested(this.store)) needSnapshot = true;
        if (needSnapshot) {
          await this.syncSnapshot();
          needSnapshot = false;
        }
        await this.pollOnce();
        this.failures = 0;
      } catch (err) {
        if (!this.running) return;
        if (err instanceof FeedError && err.reason === 'rollback-refused') {
          this.fail(err.reason, err.message);
          this.failures++;
          // the next try starts with a (cheap) poll again: the master may have been put right meanwhile
          needSnapshot = await this.waitForRollbackPermission(this.retryDelay());
          continue;
        }
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
        await this.sleep(this.retryDelay());
      }
    }
  }

  /** Backoff after the `failures`th failure in a row, with jitter, up to cluster.max_retry_seconds. */
  private retryDelay(): number {
    const delay = Math.min(this.config.cluster.max_retry_seconds * 1000, 250 * 2 ** Math.min(this.failures, 10));
    return delay * (0.75 + Math.random() * 0.5);
  }

  private fail(reason: string, message: string): void {
    this.metrics.feedFailures.inc({ reason });
    try {
      this.store.setMeta('last_feed_error', `${new Date().toISOString()} ${reason}: ${message}`);
    } catch {
      // a full disk refuses this too: the log line below still says it, and the loop must go on to retry
    }
    if (reason === 'rollback-refused') {
      // counted at every try, said again only when it changes or once a minute: it lasts until the operator acts
      const now = Date.now();
      if (message === this.rollbackLogged.message && now - this.rollbackLogged.at < ROLLBACK_LOG_MS) return;
      this.rollbackLogged = { message, at: now };
    }
    // a certificate that fails verification is not an outage: something else answers as the master; a refused
    // rollback waits for the operator
    const level = reason === 'tls-verification' || reason === 'rollback-refused' ? 'error' : 'warn';
    this.logger[level]({ event: 'replication-failure', reason, master: this.masterUrl, err: message }, `replication: ${message}`);
  }

  /** Wait up to `ms` for the operator's permission; true when it came (take the snapshot now). */
  private async waitForRollbackPermission(ms: number): Promise<boolean> {
    for (let waited = 0; this.running; waited += PERMISSION_CHECK_MS) {
      if (rollbackAllowed(this.store)) return true;
      if (waited >= ms) return false;
      await this.sleep(Math.min(PERMISSION_CHECK_MS, ms - waited));
    }
    return false;
  }

  /** The error for a master whose history does not continue this replica's: refused unless the operator allowed it. */
  private rollback(problem: string): FeedError {
    if (rollbackAllowed(this.store)) return new FeedError('resync-requested', `${problem}; taking the master's state, as allowed by "${ALLOW_ROLLBACK_COMMAND}"`);
    return new FeedError(
      'rollback-refused',
      `${problem}. Taking the master's state would undo changes this replica holds (deleted users and old admin passwords ` +
        `would come back); it keeps serving its own state. If the master was restored from a backup on purpose, run ` +
        `"${ALLOW_ROLLBACK_COMMAND}" on this replica`,
    );
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
  private async fetchSigned(
    path: string,
    timings?: { fetch_ms: number; verify_ms: number },
    close = false,
  ): Promise<{ body: Buffer; binding: FeedBinding }> {
    const started = performance.now();
    // a fresh nonce per request: the answer's signature must name it, so no answer recorded earlier passes
    const nonce = newFeedNonce();
    const url = new URL(path, this.masterUrl);
    url.searchParams.set('nonce', nonce);
    let response: Dispatcher.ResponseData;
    try {
      response = await request(url, { dispatcher: this.agent, method: 'GET', reset: close });
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
    const binding = await verifyFeed(body, Array.isArray(signature) ? signature[0] : signature, this.key, this.clusterId, nonce);
    if (timings) {
      timings.fetch_ms = Math.round(fetched - started);
      timings.verify_ms = Math.round(performance.now() - fetched);
    }
    return { body, binding };
  }

  /**
   * Refuse (unless allowed) a snapshot that does not continue this replica's history: older than its head, or the
   * master's entry at its head (as the signature states it) another one. When the master no longer keeps that entry
   * (its log was compacted past it), a snapshot further on is taken: the master moved on from there.
   */
  private checkContinues(local: ChangeHead, snapshot: Snapshot, at: FeedBinding['at']): boolean {
    if (local.seq === 0) return false;
    if (at?.seq !== local.seq) throw new FeedError('malformed', `the snapshot answer does not say whether it continues change ${local.seq}`);
    let problem: string | undefined;
    if (snapshot.head.seq < local.seq) {
      problem = `the master's snapshot is of change ${snapshot.head.seq}, behind this replica's ${local.seq} (was the master restored from an older backup?)`;
    } else if ((snapshot.head.seq === local.seq && snapshot.head.hash !== local.hash) || (at.hash !== null && at.hash !== local.hash)) {
      problem = `the master's change ${local.seq} is not this replica's: its history was rewritten (restored from a backup, then changed?)`;
    }
    if (problem === undefined) return false;
    const error = this.rollback(problem);
    if (error.reason === 'rollback-refused') throw error;
    return true;
  }

  private async syncSnapshot(): Promise<void> {
    const started = performance.now();
    const timings = { fetch_ms: 0, verify_ms: 0 };
    const local = this.store.head();
    const { body, binding } = await this.fetchSigned(`/v1/snapshot?have=${local.seq}`, timings, true);
    const parsing = performance.now();
    const snapshot = parseFeedBody(snapshotSchema, body, this.clusterId);
    const rollback = this.checkContinues(local, snapshot, binding.at);
    const applying = performance.now();
    applySnapshot(this.store, snapshot);
    const applied = performance.now();
    clearResyncRequest(this.store);
    if (rollback) {
      this.logger.warn(
        { event: 'replication-rollback', from: local.seq, to: snapshot.head.seq },
        `took the master's state at change ${snapshot.head.seq} in place of this replica's ${local.seq}, as the operator allowed`,
      );
    }
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
    const { body } = await this.fetchSigned(`/v1/changes?after=${head.seq}&wait=${this.config.cluster.poll_seconds}`);
    const batch: ChangeBatch = parseFeedBody(changeBatchSchema, body, this.clusterId);
    if (batch.after !== head.seq) throw new FeedError('malformed', `asked for changes after ${head.seq}, got changes after ${batch.after}`);
    if (batch.head.seq < head.seq) {
      throw this.rollback(`the master is at change ${batch.head.seq}, behind this replica's ${head.seq} (was the master restored from an older backup?)`);
    }
    if (batch.after_hash !== null && batch.after_hash !== head.hash) {
      throw this.rollback(`the master's change ${head.seq} is not this replica's: its history was rewritten (restored from a backup, then changed?)`);
    }
    if (batch.resync) throw new FeedError('resync-requested', `the master asks for a re-sync: ${batch.resync}`);
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
