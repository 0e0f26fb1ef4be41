import { createReadStream, rmSync, statSync } from 'node:fs';
import https from 'node:https';
import { pipeline } from 'node:stream/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { importJWK, type JWK } from 'jose';
import {
  FEED_FORMAT,
  FEED_NONCE,
  FEED_SIGNATURE_HEADER,
  SNAPSHOT_MEDIA_TYPE,
  formatListenAddress,
  feedDigest,
  signFeed,
  stepClaimSchema,
  stepReportSchema,
  type ChangeBatch,
  type ClaimAnswer,
  type FeedBinding,
  type NodeConfig,
} from '@otpgate/shared';
import {
  ClusterFiles,
  LogLimiter,
  ReplicaRegistry,
  changesAfter,
  claimStep,
  closeHttpServers,
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
import { buildSnapshotInThread } from './snapshot-job.js';
import { SharedSnapshot } from './shared-snapshot.js';
import type { SnapshotResult } from './snapshot-thread.js';

const BATCH_LIMIT = 1000;
const MAX_WAIT_SECONDS = 60;
const HEAD_POLL_MS = 50;
const STEP_REPORT_LIMIT = 1_000_000;
/** How often the replica metrics are refreshed and the certificate files checked for a renewal. */
const CERTIFICATE_CHECK_MS = 2000;


type SigningKey = Exclude<Awaited<ReturnType<typeof importJWK>>, Uint8Array>;

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The master's replication API: HTTPS only (TLS 1.2+), mutual TLS with the cluster CA, and every replica's
 * certificate checked against the registry on each request, so a removed replica is refused at once. Every feed
 * answer is signed for the request's nonce (feed.ts), so it cannot be replayed for another request.
 *   GET  /v1/snapshot?nonce=X&have=N              everything, signed with the master's hash of entry N (the replica's
 *                                                 head: it refuses a snapshot that does not continue its history)
 *   GET  /v1/changes?nonce=X&after=N&wait=S       entries after N, long-polled up to S seconds, signed
 *   POST /v1/steps                                a replica's accepted codes and counted failures (cluster-wide replay
 *                                                 and lockout)
 *   POST /v1/claims                               a replica's claim on a code before it answers Accept (one Accept per
 *                                                 code)
 *   GET  /v1/ping                                 nothing: a replica opens its connection ahead of its first claim
 */
export class ReplicationServer {
  private readonly servers: https.Server[] = [];
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
    private readonly signingKey: SigningKey,
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
    const jwk = JSON.parse(files.read('feedPrivateKey')) as JWK;
    const key = await importJWK(jwk, 'EdDSA');
    if (key instanceof Uint8Array) throw new Error(`${files.path('feedPrivateKey')} is not an Ed25519 key`);
    // snapshot files of a process that stopped while building or sending one
    removeSnapshotFiles(deps.store.dataDir, 'outgoing');
    return new ReplicationServer(deps.store, files, deps.config, deps.logger, deps.metrics, key, deps.store.getMeta('cluster_id')!);
  }

  private tlsOptions() {
    return {
      key: this.files.read('serverKey'),
      cert: this.files.read('serverCert'),
      ca: this.files.read('caCert'),
      requestCert: true,
      rejectUnauthorized: true,
      minVersion: 'TLSv1.2' as const,
    };
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
      const tls = this.tlsOptions();
      for (const server of this.servers) server.setSecureContext(tls);
      this.certStamp = stamp;
      this.logger.info({ event: 'replication-certificate-reloaded' }, 'replication API certificate reloaded');
    } catch (err) {
      // caught between the two writes (certificate and key not yet a pair): the next tick tries again
      this.logger.debug({ err: (err as Error).message }, 'replication API certificate not reloaded yet');
    }
  }

  async start(): Promise<void> {
    this.certStamp = this.certificateStamp();
    const tls = this.tlsOptions();
    for (const address of this.config.cluster.listen) {
      const server = https.createServer(tls, (req, res) => void this.handle(req, res));
      server.on('tlsClientError', (err, socket) => {
        this.logger.warn({ event: 'replication-tls-refused', from: socket.remoteAddress, err: err.message }, 'replication API refused a TLS connection');
      });
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(address.port, address.host, () => resolve());
      });
      const bound = server.address() as { address: string; port: number };
      this.logger.info({ listen: formatListenAddress({ host: bound.address, port: bound.port }) }, 'replication API listening');
      this.servers.push(server);
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
    return this.servers.map((s) => (s.address() as { port: number }).port);
  }

  async stop(): Promise<void> {
    clearInterval(this.headTimer);
    clearInterval(this.statsTimer);
    await this.compaction?.stop();
    this.unsubscribe?.();
    this.stopping.abort();
    this.snapshots.drop();
    this.wake();
    await closeHttpServers(this.servers);
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

  private identify(req: IncomingMessage): ReplicaEntry {
    const cert = (req.socket as TLSSocket).getPeerCertificate();
    if (!cert?.fingerprint256) throw new HttpError(401, 'a client certificate is required');
    const replica = this.registry.byFingerprint(cert.fingerprint256);
    if (!replica) throw new HttpError(403, `certificate ${cert.subject?.CN ?? ''} is not enrolled in this cluster`);
    if (replica.revoked_at !== null) throw new HttpError(403, `replica ${replica.name} was removed from the cluster`);
    return replica;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let replica: ReplicaEntry | undefined;
    try {
      replica = this.identify(req);
      // from now on accepted codes go into the feed (whatever this replica's snapshot holds, it gets the rest)
      this.store.publishSteps = true;
      const url = new URL(req.url ?? '/', 'https://master');
      const address = req.socket.remoteAddress ?? '';
      if (req.method === 'GET' && url.pathname === '/v1/changes') {
        const nonce = nonceParam(url);
        const after = intParam(url, 'after', 0, Number.MAX_SAFE_INTEGER);
        const wait = intParam(url, 'wait', 0, MAX_WAIT_SECONDS, 0);
        this.recordContact(replica.name, address, after);
        await this.sendSigned(res, Buffer.from(JSON.stringify(await this.changesAfter(after, wait, req))), { nonce });
      } else if (req.method === 'GET' && url.pathname === '/v1/snapshot') {
        const nonce = nonceParam(url);
        const have = intParam(url, 'have', 0, Number.MAX_SAFE_INTEGER, 0);
        this.recordContact(replica.name, address, undefined);
        const lease = this.snapshots.get(this.store.head().seq);
        try {
          this.logger.info({ event: 'replication-snapshot', replica: replica.name, shared: lease.shared }, `sending a snapshot to ${replica.name}`);
          const snapshot = await lease.result;
          // read when sent: whether the master's history still holds the replica's head
          const at = { seq: have, hash: feedHashAt(this.store, have) };
          const sending = performance.now();
          if (!(await this.sendSnapshot(res, snapshot, { nonce, at }, replica.name))) return;
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
      } else if (req.method === 'POST' && url.pathname === '/v1/steps') {
        this.recordContact(replica.name, address, undefined);
        const accepted = this.recordSteps(replica.name, await readJson(req));
        sendJson(res, 200, { accepted });
      } else if (req.method === 'GET' && url.pathname === '/v1/ping') {
        // a replica's RADIUS thread opens its connection ahead of its first claim
        res.writeHead(204).end();
      } else if (req.method === 'POST' && url.pathname === '/v1/claims') {
        sendJson(res, 200, this.claim(replica.name, await readJson(req)));
      } else {
        throw new HttpError(404, `no such endpoint: ${req.method} ${url.pathname}`);
      }
    } catch (err) {
      // this node's disk refusing a write (a replica's used steps) is not a bug: 503, the replica keeps them and retries
      const unwritable = storeWriteProblem(err);
      const status = err instanceof HttpError ? err.status : unwritable ? 503 : 500;
      if (unwritable) this.storeUnwritable(unwritable);
      else if (status >= 500) this.logger.error({ err: (err as Error).stack, replica: replica?.name }, 'replication API error');
      else this.logger.warn({ event: 'replication-refused', replica: replica?.name, status, reason: (err as Error).message, from: req.socket.remoteAddress }, 'replication API refused a request');
      if (!res.headersSent) sendJson(res, status, { error: unwritable ? `the master cannot write its store: ${unwritable}` : (err as Error).message });
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

  private storeUnwritable(reason: string): void {
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
  private async changesAfter(after: number, wait: number, req: IncomingMessage): Promise<ChangeBatch> {
    const first = this.batch(after);
    if (first.entries.length > 0 || first.resync || wait === 0) return first;
    this.lastHead = this.store.head().seq;
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(done);
        req.off('close', done);
        resolve();
      };
      const timer = setTimeout(done, wait * 1000);
      this.waiters.add(done);
      req.on('close', done);
    });
    return this.batch(after);
  }

  /**
   * Steps accepted on a replica: stored when newer than what the master has and within the token's window (a step
   * far ahead would make every code a replay everywhere), then published to every node. Refused ones are logged and
   * counted; the replica hears how many were taken.
   */
  private recordSteps(replica: string, body: unknown): number {
    const parsed = stepReportSchema.safeParse(body);
    if (!parsed.success) throw new HttpError(400, `bad step report: ${parsed.error.issues[0]?.message ?? ''}`);
    // the cluster-wide replay protection and lockout: a new step or lock goes out to every node within 50 ms
    // (token-state.ts, lockouts.ts); and its requests per 5 minutes, for the dashboard's chart of each node
    const { steps, locked, buckets } = recordReport(this.store, replica, parsed.data, this.store.settings());
    for (const r of steps.refused) this.refusedStep(replica, r.token_id, r.step, r.reason);
    if (locked > 0) this.metrics.lockouts.inc();
    if (buckets.refused > 0 && this.bucketLog.allow(replica)) {
      this.logger.warn(
        { event: 'bucket-report-refused', replica, refused: buckets.refused },
        `ignored ${buckets.refused} request counts from ${replica} for times the master does not keep (over 25 hours ago or ahead of its clock): is the replica's clock right? (at most one line a minute)`,
      );
    }
    return steps.stored;
  }

  /** A replica asks, before answering Accept, whether a step is still unused anywhere: exactly one node gets yes. */
  private claim(replica: string, body: unknown): ClaimAnswer {
    const parsed = stepClaimSchema.safeParse(body);
    if (!parsed.success) throw new HttpError(400, `bad claim: ${parsed.error.issues[0]?.message ?? ''}`);
    const result = claimStep(this.store, parsed.data, this.store.settings(), replica);
    if (result.claimed) return { claimed: true };
    if (result.reason !== 'replay') this.refusedStep(replica, parsed.data.token_id, parsed.data.last_step, result.reason);
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
  private async sendSigned(res: ServerResponse, body: Uint8Array, binding: FeedBinding): Promise<void> {
    const signature = await signFeed(feedDigest(body), binding, this.signingKey, this.clusterId);
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length, [FEED_SIGNATURE_HEADER]: signature });
    res.end(body);
  }

  /**
   * Sign a snapshot file's digest for the request `binding` names and stream the file (never in memory as a whole);
   * false when the replica went away before it had all of it.
   */
  private async sendSnapshot(res: ServerResponse, snapshot: SnapshotResult, binding: FeedBinding, replica: string): Promise<boolean> {
    // opened before the headers go: the file is there (a lease keeps it) and stays readable to the end
    const file = createReadStream(snapshot.path, { highWaterMark: 1024 * 1024 });
    try {
      const signature = await signFeed(snapshot.digest, binding, this.signingKey, this.clusterId);
      res.writeHead(200, { 'content-type': SNAPSHOT_MEDIA_TYPE, 'content-length': snapshot.bytes, [FEED_SIGNATURE_HEADER]: signature });
      await pipeline(file, res);
      return true;
    } catch (err) {
      file.destroy();
      if (!res.headersSent) throw err;
      res.destroy();
      this.logger.warn({ event: 'replication-snapshot-aborted', replica, err: (err as Error).message }, `the snapshot for ${replica} was not sent to the end: ${(err as Error).message}`);
      return false;
    }
  }
}

/** The request's nonce, which the answer's signature binds (feed.ts). */
function nonceParam(url: URL): string {
  const nonce = url.searchParams.get('nonce');
  if (nonce === null) {
    throw new HttpError(400, `the request carries no nonce: this master speaks feed format ${FEED_FORMAT}; upgrade the replica to the master's otpgate version`);
  }
  if (!FEED_NONCE.test(nonce)) throw new HttpError(400, 'query parameter nonce must be 16-64 characters of A-Z a-z 0-9 _ -');
  return nonce;
}

function intParam(url: URL, name: string, min: number, max: number, fallback?: number): number {
  const text = url.searchParams.get(name);
  if (text === null && fallback !== undefined) return fallback;
  const n = Number(text);
  if (text === null || !Number.isInteger(n) || n < min || n > max) throw new HttpError(400, `query parameter ${name} must be an integer ${min}-${max}`);
  return n;
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > STEP_REPORT_LIMIT) throw new HttpError(413, 'request body too large');
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new HttpError(400, 'request body is not JSON');
  }
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}
