import { rmSync } from 'node:fs';
import { Agent, request, type Dispatcher } from 'undici';
import {
  FEED_SIGNATURE_HEADER,
  FeedError,
  changeBatchSchema,
  newFeedNonce,
  parseFeedBody,
  verifyChain,
  verifyFeed,
  verifyFeedDigest,
  type ChangeBatch,
  type FeedBinding,
  type FeedHead,
  type NodeConfig,
  importFeedKey,
  type FeedKey,
  errorMessage,
} from '@otpgate/shared';
import {
  COMPACTION_KEEP_TAIL,
  ClusterFiles,
  masterTlsOptions,
  ReplicationDataError,
  applyEntries,
  applySnapshotInThread,
  newSnapshotPath,
  readSnapshotHeader,
  removeSnapshotFiles,
  scheduleLogCompaction,
  storeWriteProblem,
  type AppliedSnapshot,
  type ChangeHead,
  type Logger,
  type Metrics,
  type RetentionJob,
  type Store,
  type StoreJobRun,
} from '@otpgate/core';
import { MasterConnectionError, connectionError } from './master-connection.js';
import { ALLOW_ROLLBACK_COMMAND, clearResyncRequest, resyncRequested, rollbackAllowed } from './resync-request.js';
import { checkAnnouncedSize, receiveSnapshot } from './snapshot-download.js';
import { retryDelayMs } from './retry-delay.js';

/** While a rollback is refused: the same error is logged once a minute at most; the permission is looked for every second. */
const ROLLBACK_LOG_MS = 60_000;
const PERMISSION_CHECK_MS = 1000;

/**
 * Follows the master's feed: the first sync (or any re-sync) takes a snapshot, then changes are long-polled and
 * applied batch by batch. Every response is verified (signature for this request's nonce, cluster, chain) before
 * anything is applied; a bad one is refused, counted and logged, the node keeps serving its last good state and tries
 * again with backoff. A master whose history went back (restored from a backup) is not followed until the operator
 * allows it (ALLOW_ROLLBACK_COMMAND): its snapshot would bring back deleted users and old admin password hashes.
 * A snapshot is received into a file, checked, and applied from it in a thread of its own (store-job.ts), so this
 * thread (metrics, health, SIGTERM) is never held up by it, and stopping rolls it back.
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
  /** The snapshot being applied, while it is. */
  private applying: StoreJobRun<AppliedSnapshot> | undefined;
  readonly masterUrl: string;
  private readonly clusterId: string;

  constructor(
    private readonly store: Store,
    private readonly config: NodeConfig,
    private readonly logger: Logger,
    private readonly metrics: Metrics,
    private readonly key: FeedKey,
    private readonly forwardLog: (line: string) => void,
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

  /** `forwardLog`: where a line logged by the thread applying a snapshot goes (the node's log). */
  static async create(
    store: Store,
    config: NodeConfig,
    logger: Logger,
    metrics: Metrics,
    forwardLog: (line: string) => void = (line) => void process.stdout.write(line),
  ): Promise<FeedClient> {
    const files = new ClusterFiles(store.dataDir);
    const key = await importFeedKey(files.read('feedPublicKey'), 'public', files.path('feedPublicKey'));
    // snapshot files of a process that stopped while receiving or applying one
    removeSnapshotFiles(store.dataDir, 'incoming');
    return new FeedClient(store, config, logger, metrics, key, forwardLog);
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
    // this replica's copy of the log: nobody follows it, so the newest entries are all it keeps; not while a snapshot
    // is applied (its thread holds the write lock, and this thread must not wait for it), nor while it catches up with
    // the master (a bulk change arriving in batches: moving the base drops the RADIUS threads' user caches, and an
    // interrupted catch-up must leave every applied batch whole in the log as in the tables)
    this.compaction = scheduleLogCompaction(this.store, this.logger, () => {
      const head = this.store.head().seq;
      const behind = Number(this.store.getMeta('master_head_seq') ?? 0) > head;
      return this.applying || behind ? 0 : head - COMPACTION_KEEP_TAIL;
    });
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
    // a snapshot being applied is rolled back (the next start takes a fresh one); one being received is cut off
    await this.applying?.stop();
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
        this.fail(reason, unwritable ? `cannot store what the master sent: ${unwritable}; the last good state stays in service` : errorMessage(err));
        this.failures++;
        await this.sleep(this.retryDelay());
      }
    }
  }

  private retryDelay(): number {
    return retryDelayMs(this.failures, this.config.cluster.max_retry_seconds);
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
   * Send a GET with a fresh nonce (the answer's signature must name it, so no answer recorded earlier passes); a
   * refusal or an error status is thrown. `close`: do not keep the connection for the next request (after a snapshot,
   * which takes long enough for the master to close an idle connection under the next poll).
   */
  private async get(path: string, close = false): Promise<{ response: Dispatcher.ResponseData; nonce: string }> {
    const nonce = newFeedNonce();
    const url = new URL(path, this.masterUrl);
    url.searchParams.set('nonce', nonce);
    let response: Dispatcher.ResponseData;
    try {
      response = await request(url, { dispatcher: this.agent, method: 'GET', reset: close });
    } catch (err) {
      throw connectionError(this.masterUrl, err);
    }
    if (response.statusCode !== 200) {
      let detail = (await response.body.text()).slice(0, 300);
      try {
        detail = (JSON.parse(detail) as { error?: string }).error ?? detail;
      } catch {
        // not JSON: show it as it came
      }
      // 401/403: the master does not accept this replica (removed, or never enrolled); re-enrolling is the way back
      const reason = response.statusCode === 401 || response.statusCode === 403 ? 'refused' : 'unreachable';
      throw new MasterConnectionError(reason, `the master answered ${response.statusCode}: ${detail}`);
    }
    return { response, nonce };
  }

  private signatureOf(response: Dispatcher.ResponseData): string | undefined {
    const signature = response.headers[FEED_SIGNATURE_HEADER];
    return Array.isArray(signature) ? signature[0] : signature;
  }

  /** Fetch a (small) feed answer and verify it. */
  private async fetchSigned(path: string): Promise<Buffer> {
    const { response, nonce } = await this.get(path);
    const body = Buffer.from(await response.body.arrayBuffer());
    await verifyFeed(body, this.signatureOf(response), this.key, this.clusterId, nonce);
    return body;
  }

  /**
   * Fetch a snapshot into the file at `path`, hashed as it comes, and verify the signature against that digest: nothing
   * of it is read before this passed.
   */
  private async fetchSnapshot(path: string, file: string): Promise<{ binding: FeedBinding; bytes: number; fetch_ms: number; verify_ms: number }> {
    const started = performance.now();
    const { response, nonce } = await this.get(path, true);
    const maxBytes = this.config.cluster.max_snapshot_mb * 1024 * 1024;
    let received;
    try {
      checkAnnouncedSize(response.headers['content-length'], maxBytes);
      received = await receiveSnapshot(response.body, file, maxBytes);
    } catch (err) {
      response.body.destroy();
      if (err instanceof FeedError || storeWriteProblem(err)) throw err;
      throw connectionError(this.masterUrl, err);
    }
    const fetched = performance.now();
    const binding = await verifyFeedDigest(received.digest, this.signatureOf(response), this.key, this.clusterId, nonce);
    return { binding, bytes: received.bytes, fetch_ms: Math.round(fetched - started), verify_ms: Math.round(performance.now() - fetched) };
  }

  /**
   * Refuse (unless allowed) a snapshot that does not continue this replica's history: older than its head, or the
   * master's entry at its head (as the signature states it) another one. When the master no longer keeps that entry
   * (its log was compacted past it), a snapshot further on is taken: the master moved on from there.
   */
  private checkContinues(local: ChangeHead, head: FeedHead, at: FeedBinding['at']): boolean {
    if (local.seq === 0) return false;
    if (at?.seq !== local.seq) throw new FeedError('malformed', `the snapshot answer does not say whether it continues change ${local.seq}`);
    let problem: string | undefined;
    if (head.seq < local.seq) {
      problem = `the master's snapshot is of change ${head.seq}, behind this replica's ${local.seq} (was the master restored from an older backup?)`;
    } else if ((head.seq === local.seq && head.hash !== local.hash) || (at.hash !== null && at.hash !== local.hash)) {
      problem = `the master's change ${local.seq} is not this replica's: its history was rewritten (restored from a backup, then changed?)`;
    }
    if (problem === undefined) return false;
    const error = this.rollback(problem);
    if (error.reason === 'rollback-refused') throw error;
    return true;
  }

  private async syncSnapshot(): Promise<void> {
    const started = performance.now();
    const local = this.store.head();
    const file = newSnapshotPath(this.store.dataDir, 'incoming');
    try {
      const { binding, bytes, ...timings } = await this.fetchSnapshot(`/v1/snapshot?have=${local.seq}`, file);
      const { head } = readSnapshotHeader(file, this.clusterId);
      const rollback = this.checkContinues(local, head, binding.at);
      const applying = performance.now();
      this.logger.info(
        { event: 'replication-snapshot-received', seq: head.seq, bytes, ...timings },
        `received a snapshot of the master at change ${head.seq} (${bytes} bytes), applying it`,
      );
      this.applying = applySnapshotInThread(this.config, file, this.clusterId, this.forwardLog);
      let applied: AppliedSnapshot;
      try {
        applied = await this.applying.result;
      } finally {
        this.applying = undefined;
      }
      // the thread wrote through its own connection: this one's caches learn of it here
      this.store.notifyChanged();
      const applyMs = Math.round(performance.now() - applying);
      clearResyncRequest(this.store);
      if (rollback) {
        this.logger.warn(
          { event: 'replication-rollback', from: local.seq, to: head.seq },
          `took the master's state at change ${head.seq} in place of this replica's ${local.seq}, as the operator allowed`,
        );
      }
      this.metrics.snapshots.inc();
      this.contact(head.seq);
      const users = applied.counts.user ?? 0;
      this.logger.info(
        {
          event: 'replication-snapshot',
          seq: applied.head.seq,
          users,
          bytes,
          ms: Math.round(performance.now() - started),
          // fetch: request to body received into the file (the master builds it meanwhile); verify: the signature
          // over its digest; apply: every record read, validated and written in one transaction, in a thread
          ...timings,
          apply_ms: applyMs,
        },
        `applied a snapshot of the master at change ${applied.head.seq} (${users} users)`,
      );
    } finally {
      rmSync(file, { force: true });
    }
    for (const resolve of this.firstSyncWaiters.splice(0)) resolve();
  }

  private async pollOnce(): Promise<void> {
    const head = this.store.head();
    const body = await this.fetchSigned(`/v1/changes?after=${head.seq}&wait=${this.config.cluster.poll_seconds}`);
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
