/**
 * The master's replication API: HTTPS only (TLS 1.2+), mutual TLS with the cluster CA, and every replica's
 * certificate checked against the registry on each request, so a removed replica is refused at once. Every feed
 * answer is signed for the request's nonce (feed.ts), so it cannot be replayed for another request. The endpoints,
 * their schemas and refusals are in api.ts; this is what they do, and the server's life: the certificate renewed
 * without a restart, long polls woken by new changes, the snapshots shared between replicas, the log compacted.
 */
import { createReadStream, rmSync, statSync } from 'node:fs';
import type { Server } from 'node:https';
import { pipeline } from 'node:stream/promises';
import type { TLSSocket } from 'node:tls';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  FEED_SIGNATURE_HEADER,
  SNAPSHOT_MEDIA_TYPE,
  formatListenAddress,
  feedDigest,
  signFeed,
  type ChangeBatch,
  type ClaimAnswer,
  type FeedBinding,
  type NodeConfig,
  type StepReport,
  type TokenStateRecord,
  type VpnCredentialAnswer,
  type VpnCredentialClaim,
  type PushCreate,
  type PushCreateAnswer,
  type PushDecisionsAnswer,
  type PushDecisionsQuery,
  importFeedKey,
  errorMessage,
  type FeedKey,
} from '@otpgate/shared';
import {
  ClusterFiles,
  LogLimiter,
  ReplicaRegistry,
  changesAfter,
  claimStep,
  claimVpnCredential,
  claimPush,
  pushDecisions,
  compactionFloor,
  feedHashAt,
  newSnapshotPath,
  recordReport,
  removeSnapshotFiles,
  scheduleLogCompaction,
  storeWriteProblem,
  type Logger,
  type Metrics,
  type ReplicaEntry,
  type RetentionJob,
  type Store,
} from '@otpgate/core';
import { ReplicationRefusal, createReplicationApp, type ChangesQuery, type ReplicationHandlers, type ReplicationTls, type SnapshotQuery } from './api.js';
import { buildSnapshotInThread } from './snapshot-job.js';
import { SharedSnapshot } from './shared-snapshot.js';
import type { SnapshotResult } from './snapshot-thread.js';

const BATCH_LIMIT = 1000;
const HEAD_POLL_MS = 50;
/** How often the replica metrics are refreshed and the certificate files checked for a renewal. */
const CERTIFICATE_CHECK_MS = 2000;


export class ReplicationServer implements ReplicationHandlers {
  private readonly apps: FastifyInstance[] = [];
  private readonly waiters = new Set<() => void>();
  private readonly registry: ReplicaRegistry;
  private headTimer: NodeJS.Timeout | undefined;
  private statsTimer: NodeJS.Timeout | undefined;
  private lastHead = -1;
  private certStamp = '';
  private readonly snapshots: SharedSnapshot<SnapshotResult>;
  private unsubscribe: (() => void) | undefined;
  /** A full disk fails every replica's every request: one line a minute says so. */
  private readonly unwritableLog = new LogLimiter(60_000);
  /** A replica whose clock is far off sends counts of buckets the master does not keep: one line a minute each. */
  private readonly bucketLog = new LogLimiter(60_000);
  private compaction: RetentionJob | undefined;
  /** Ends the snapshot threads when the node stops. */
  private readonly stopping = new AbortController();

  private constructor(
    private readonly store: Store,
    private readonly files: ClusterFiles,
    private readonly config: NodeConfig,
    private readonly logger: Logger,
    private readonly metrics: Metrics,
    private readonly signingKey: FeedKey,
    private readonly clusterId: string,
  ) {
    this.registry = new ReplicaRegistry(store);
    this.snapshots = new SharedSnapshot(
      (head) => {
        this.logger.info({ event: 'replication-snapshot-build', head }, `building a snapshot at change ${head}`);
        return buildSnapshotInThread({ dataDir: store.dataDir, clusterId, path: newSnapshotPath(store.dataDir, 'outgoing') }, this.stopping.signal);
      },
      (snapshot) => rmSync(snapshot.path, { force: true }),
    );
  }

  static async create(deps: { store: Store; config: NodeConfig; logger: Logger; metrics: Metrics }): Promise<ReplicationServer> {
    const files = new ClusterFiles(deps.store.dataDir);
    const key = await importFeedKey(files.read('feedPrivateKey'), 'private', files.path('feedPrivateKey'));
    // snapshot files of a process that stopped while building or sending one
    removeSnapshotFiles(deps.store.dataDir, 'outgoing');
    return new ReplicationServer(deps.store, files, deps.config, deps.logger, deps.metrics, key, deps.store.getMeta('cluster_id')!);
  }

  private tlsOptions(): ReplicationTls {
    return { key: this.files.read('serverKey'), cert: this.files.read('serverCert'), ca: this.files.read('caCert') };
  }

  /** When the certificate files were last written ("" when one is missing). */
  private certificateStamp(): string {
    try {
      return (['serverCert', 'serverKey'] as const).map((f) => statSync(this.files.path(f)).mtimeMs).join('/');
    } catch {
      return '';
    }
  }

  /** Present a certificate renewed by `otpgate cluster renew-certificate` (another process) without a restart. */
  private reloadCertificate(): void {
    const stamp = this.certificateStamp();
    if (stamp === '' || stamp === this.certStamp) return;
    try {
      const tls = { ...this.tlsOptions(), minVersion: 'TLSv1.2' as const };
      for (const app of this.apps) (app.server as Server).setSecureContext(tls);
      this.certStamp = stamp;
      this.logger.info({ event: 'replication-certificate-reloaded' }, 'replication API certificate reloaded');
    } catch (err) {
      // caught between the two writes (certificate and key not yet a pair): the next tick tries again
      this.logger.debug({ err: errorMessage(err) }, 'replication API certificate not reloaded yet');
    }
  }

  async start(): Promise<void> {
    this.certStamp = this.certificateStamp();
    const tls = this.tlsOptions();
    for (const address of this.config.cluster.listen) {
      const app = createReplicationApp(tls, this, this.logger);
      this.apps.push(app);
      await app.listen({ port: address.port, host: address.host });
      const bound = app.server.address() as { address: string; port: number };
      this.logger.info({ listen: formatListenAddress({ host: bound.address, port: bound.port }) }, 'replication API listening');
    }
    this.unsubscribe = this.store.onChange(() => this.wake());
    // changes made by another process (the CLI) do not pass through onChange: watch the head while replicas wait
    this.headTimer = setInterval(() => {
      if (this.waiters.size === 0) return;
      const seq = this.store.head().seq;
      if (seq !== this.lastHead) {
        this.lastHead = seq;
        this.wake();
      }
    }, HEAD_POLL_MS);
    this.statsTimer = setInterval(() => {
      this.updateMetrics();
      this.reloadCertificate();
    }, CERTIFICATE_CHECK_MS);
    this.headTimer.unref();
    this.statsTimer.unref();
    this.updateMetrics();
    // the log keeps what the replicas still need (acked_seq: each /v1/changes request acknowledges its `after`)
    const horizonDays = this.config.cluster.replica_horizon_days;
    this.compaction = scheduleLogCompaction(this.store, this.logger, () => compactionFloor(this.store, horizonDays));
  }

  ports(): number[] {
    return this.apps.map((a) => (a.server.address() as { port: number }).port);
  }

  async stop(): Promise<void> {
    clearInterval(this.headTimer);
    clearInterval(this.statsTimer);
    await this.compaction?.stop();
    this.unsubscribe?.();
    this.stopping.abort();
    this.snapshots.drop();
    this.wake();
    await Promise.all(this.apps.map((a) => a.close()));
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }

  private updateMetrics(): void {
    const now = Date.now();
    const replicas = this.registry.list().filter((r) => r.revoked_at === null);
    this.metrics.replicasConnected.set(replicas.filter((r) => r.last_seen_at !== null && now - r.last_seen_at < 60_000).length);
    for (const r of replicas) this.metrics.replicaAckedSeq.set({ replica: r.name }, r.acked_seq);
    this.metrics.headSeq.set(this.store.head().seq);
  }

  identify(req: FastifyRequest): ReplicaEntry {
    const cert = (req.socket as TLSSocket).getPeerCertificate?.();
    if (!cert?.fingerprint256) throw new ReplicationRefusal(401, 'a client certificate is required');
    const replica = this.registry.byFingerprint(cert.fingerprint256);
    if (!replica) throw new ReplicationRefusal(403, `certificate ${String(cert.subject?.CN ?? '')} is not enrolled in this cluster`);
    if (replica.revoked_at !== null) throw new ReplicationRefusal(403, `replica ${replica.name} was removed from the cluster`);
    // from now on accepted codes go into the feed (whatever this replica's snapshot holds, it gets the rest)
    this.store.publishSteps = true;
    return replica;
  }

  async changes(replica: ReplicaEntry, query: ChangesQuery, req: FastifyRequest, reply: FastifyReply): Promise<void> {
    this.recordContact(replica.name, req.socket.remoteAddress ?? '', query.after);
    const batch = await this.changesAfter(query.after, query.wait, req);
    await this.sendSigned(reply, Buffer.from(JSON.stringify(batch)), { nonce: query.nonce });
  }

  async snapshot(replica: ReplicaEntry, query: SnapshotQuery, req: FastifyRequest, reply: FastifyReply): Promise<void> {
    this.recordContact(replica.name, req.socket.remoteAddress ?? '', undefined);
    const lease = this.snapshots.get(this.store.head().seq);
    try {
      this.logger.info({ event: 'replication-snapshot', replica: replica.name, shared: lease.shared }, `sending a snapshot to ${replica.name}`);
      const snapshot = await lease.result;
      // read when sent: whether the master's history still holds the replica's head
      const at = { seq: query.have, hash: feedHashAt(this.store, query.have) };
      const sending = performance.now();
      if (!(await this.sendSnapshot(reply, snapshot, { nonce: query.nonce, at }, replica.name))) return;
      this.logger.info(
        {
          event: 'replication-snapshot-sent',
          replica: replica.name,
          seq: snapshot.head.seq,
          users: snapshot.users,
          bytes: snapshot.bytes,
          build_ms: snapshot.buildMs,
          send_ms: Math.round(performance.now() - sending),
          shared: lease.shared,
        },
        `sent a snapshot of change ${snapshot.head.seq} to ${replica.name} (${snapshot.bytes} bytes)`,
      );
    } finally {
      lease.release();
    }
  }

  /** When the replica was last seen and what it has applied: bookkeeping that a full disk must not turn into a refused feed. */
  private recordContact(name: string, address: string, ackedSeq: number | undefined): void {
    try {
      this.registry.recordContact(name, address, ackedSeq);
    } catch (err) {
      const unwritable = storeWriteProblem(err);
      if (!unwritable) throw err;
      this.storeUnwritable(unwritable);
    }
  }

  storeUnwritable(reason: string): void {
    if (!this.unwritableLog.allow('store')) return;
    this.logger.error(
      { event: 'replication-store-unwritable', reason },
      `replication API: cannot write the store (${reason}); changes are still sent, used steps from replicas wait on the replicas (at most one line a minute)`,
    );
  }

  private batch(after: number): ChangeBatch {
    const { head, base, afterHash, entries } = changesAfter(this.store, after, BATCH_LIMIT);
    const common = { kind: 'changes' as const, cluster_id: this.clusterId, issued_at: Date.now(), after, head };
    if (after > head.seq) {
      return { ...common, after_hash: null, entries: [], resync: `the replica is at ${after} but the master only at ${head.seq} (was the master restored from a backup?)` };
    }
    if (after < base.seq) return { ...common, after_hash: null, entries: [], resync: `the master keeps changes from ${base.seq} on only` };
    return { ...common, after_hash: afterHash, entries };
  }

  /** Entries after `after`, waiting up to `wait` seconds for the first one (long poll). */
  private async changesAfter(after: number, wait: number, req: FastifyRequest): Promise<ChangeBatch> {
    const first = this.batch(after);
    if (first.entries.length > 0 || first.resync || wait === 0) return first;
    this.lastHead = this.store.head().seq;
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(done);
        req.raw.off('close', done);
        resolve();
      };
      const timer = setTimeout(done, wait * 1000);
      this.waiters.add(done);
      req.raw.on('close', done);
    });
    return this.batch(after);
  }

  /**
   * Steps accepted on a replica: stored when newer than what the master has and within the token's window (a step
   * far ahead would make every code a replay everywhere), then published to every node. Refused ones are logged and
   * counted; the replica hears how many were taken.
   */
  steps(replica: ReplicaEntry, report: StepReport, req: FastifyRequest): number {
    this.recordContact(replica.name, req.socket.remoteAddress ?? '', undefined);
    // the cluster-wide replay protection and lockout: a new step or lock goes out to every node within 50 ms
    // (token-state.ts, lockouts.ts); and its requests per 5 minutes, for the dashboard's chart of each node
    const { steps, locked, buckets } = recordReport(this.store, replica.name, report, this.store.settings());
    for (const r of steps.refused) this.refusedStep(replica.name, r.token_id, r.step, r.reason);
    if (locked > 0) this.metrics.lockouts.inc();
    if (buckets.refused > 0 && this.bucketLog.allow(replica.name)) {
      this.logger.warn(
        { event: 'bucket-report-refused', replica: replica.name, refused: buckets.refused },
        `ignored ${buckets.refused} request counts from ${replica.name} for times the master does not keep (over 25 hours ago or ahead of its clock): is the replica's clock right? (at most one line a minute)`,
      );
    }
    return steps.stored;
  }

  /** A replica asks, before answering Accept, whether a step is still unused anywhere: exactly one node gets yes. */
  vpnCredential(replica: ReplicaEntry, claim: VpnCredentialClaim): VpnCredentialAnswer {
    return claimVpnCredential(this.store, replica.name, claim);
  }

  push(_replica: ReplicaEntry, push: PushCreate): PushCreateAnswer {
    return claimPush(this.store, push);
  }

  pushDecisions(_replica: ReplicaEntry, query: PushDecisionsQuery): PushDecisionsAnswer {
    return pushDecisions(this.store, query);
  }

  claim(replica: ReplicaEntry, step: TokenStateRecord): ClaimAnswer {
    const result = claimStep(this.store, step, this.store.settings(), replica.name);
    if (result.claimed) return { claimed: true };
    if (result.reason !== 'replay') this.refusedStep(replica.name, step.token_id, step.last_step, result.reason);
    return { claimed: false, reason: result.reason };
  }

  private refusedStep(replica: string, tokenId: number, step: number, reason: 'unknown-token' | 'outside-window'): void {
    this.metrics.stepReportsRefused.inc({ reason });
    this.logger.warn(
      { event: 'step-report-refused', replica, token_id: tokenId, step, reason },
      `refused a used step reported by ${replica} for token ${tokenId}: ${reason === 'unknown-token' ? 'no such token' : "outside the token's window"}`,
    );
  }

  /** Sign `body` for the request `binding` names, and send it. */
  private async sendSigned(reply: FastifyReply, body: Buffer, binding: FeedBinding): Promise<void> {
    const signature = await signFeed(feedDigest(body), binding, this.signingKey, this.clusterId);
    // not awaited: a replica gone before the answer is written is no error of this request's
    void reply.type('application/json').header(FEED_SIGNATURE_HEADER, signature).send(body);
  }

  /**
   * Sign a snapshot file's digest for the request `binding` names and stream the file (never in memory as a whole);
   * false when the replica went away before it had all of it.
   */
  private async sendSnapshot(reply: FastifyReply, snapshot: SnapshotResult, binding: FeedBinding, replica: string): Promise<boolean> {
    // opened before the headers go: the file is there (a lease keeps it) and stays readable to the end
    const file = createReadStream(snapshot.path, { highWaterMark: 1024 * 1024 });
    let signature: string;
    try {
      signature = await signFeed(snapshot.digest, binding, this.signingKey, this.clusterId);
    } catch (err) {
      file.destroy();
      throw err;
    }
    // from here on the answer is written here: once its headers are out, a failure can only cut the connection
    void reply.hijack();
    const res = reply.raw;
    try {
      res.writeHead(200, { 'content-type': SNAPSHOT_MEDIA_TYPE, 'content-length': snapshot.bytes, [FEED_SIGNATURE_HEADER]: signature });
      await pipeline(file, res);
      return true;
    } catch (err) {
      file.destroy();
      res.destroy();
      this.logger.warn({ event: 'replication-snapshot-aborted', replica, err: errorMessage(err) }, `the snapshot for ${replica} was not sent to the end: ${errorMessage(err)}`);
      return false;
    }
  }
}
