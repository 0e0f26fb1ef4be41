import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export type DropCause =
  | 'unknown-client'
  | 'malformed'
  | 'missing-message-authenticator'
  | 'bad-message-authenticator'
  | 'proxy-state-without-message-authenticator'
  | 'unsupported-code'
  | 'duplicate-in-progress'
  | 'backend-error'
  | 'overload'
  | 'store-unwritable'
  | 'internal-error';

/** A certificate the node uses and when it expires (ms since the epoch). */
export interface CertificateExpiry {
  certificate: string;
  expiresAt: number;
}

/**
 * The node's Prometheus metrics, in a registry of its own (several nodes can run in one test process). Labels are
 * bounded: client names, reasons and causes come from fixed sets or the admin's client list, never user names.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly requests = new Counter({
    name: 'otpgate_radius_requests_total',
    help: 'RADIUS requests answered or dropped, by client, request code and result',
    labelNames: ['client', 'code', 'result'] as const,
    registers: [this.registry],
  });
  readonly rejects = new Counter({
    name: 'otpgate_radius_rejects_total',
    help: 'Access-Rejects by reason',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly latency = new Histogram({
    name: 'otpgate_radius_request_duration_seconds',
    help: 'Time from receiving an Access-Request to sending its answer',
    labelNames: ['result'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });
  readonly duplicates = new Counter({
    name: 'otpgate_radius_duplicate_answers_total',
    help: 'Retransmissions answered from the duplicate cache without authenticating again',
    labelNames: ['client'] as const,
    registers: [this.registry],
  });
  readonly dropped = new Counter({
    name: 'otpgate_radius_dropped_total',
    help: 'Datagrams dropped without an answer, by cause',
    labelNames: ['cause'] as const,
    registers: [this.registry],
  });
  readonly backendRequests = new Counter({
    name: 'otpgate_backend_requests_total',
    help: 'Password checks by backend and outcome (accept, reject, error)',
    labelNames: ['backend', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly backendLatency = new Histogram({
    name: 'otpgate_backend_request_duration_seconds',
    help: 'Password check time by backend',
    labelNames: ['backend'] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly lockouts = new Counter({
    name: 'otpgate_lockouts_total',
    help: 'Accounts locked after repeated failures',
    registers: [this.registry],
  });
  readonly storeWritable = new Gauge({
    name: 'otpgate_store_writable',
    help: '1 while the state database takes writes; 0 while they fail (disk full, I/O error): no Accept is answered then',
    // the node's threads each say so: one that cannot write is enough
    aggregator: 'min',
    registers: [this.registry],
  });
  readonly radiusWorkers = new Gauge({
    name: 'otpgate_radius_workers',
    help: 'RADIUS worker threads listening now (radius.workers are configured)',
    registers: [this.registry],
  });
  readonly radiusWorkerRestarts = new Counter({
    name: 'otpgate_radius_worker_restarts_total',
    help: 'RADIUS worker threads that stopped unexpectedly and were started again',
    registers: [this.registry],
  });
  readonly replayClaims = new Counter({
    name: 'otpgate_replay_claims_total',
    help: 'Replica: codes claimed from the master before an Accept, by result (claimed, replay: used elsewhere, unavailable: master did not answer in time)',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  readonly stepReportsRefused = new Counter({
    name: 'otpgate_step_reports_refused_total',
    help: 'Used steps reported by replicas and refused by the master (unknown token, or outside the token window)',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly info = new Gauge({
    name: 'otpgate_node_info',
    help: 'Always 1; labels give the node name, role and version',
    labelNames: ['node', 'role', 'version'] as const,
    registers: [this.registry],
  });

  // replication, on a replica
  readonly appliedSeq = new Gauge({
    name: 'otpgate_replication_applied_seq',
    help: 'Sequence number of the last change applied from the master',
    registers: [this.registry],
  });
  readonly lagEntries = new Gauge({
    name: 'otpgate_replication_lag_entries',
    help: 'Changes the master had that this replica had not applied, at the last contact',
    registers: [this.registry],
  });
  readonly lagSeconds = new Gauge({
    name: 'otpgate_replication_lag_seconds',
    help: 'Age of the oldest change not yet applied (0 when up to date)',
    registers: [this.registry],
  });
  private contactSource: (() => number | undefined) | undefined;
  readonly sinceContact = new Gauge({
    name: 'otpgate_replication_seconds_since_contact',
    help: 'Seconds since the last successful exchange with the master',
    registers: [this.registry],
    // exact at scrape time when the node says where the last contact is recorded (see watchContact)
    collect: () => {
      const at = this.contactSource?.();
      if (at !== undefined) this.sinceContact.set(Math.max(0, (Date.now() - at) / 1000));
    },
  });
  readonly feedFailures = new Counter({
    name: 'otpgate_replication_feed_failures_total',
    help: 'Feed responses refused or requests failed, by reason (bad-signature, tampered, gap, tls-verification, refused, unreachable...)',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly snapshots = new Counter({
    name: 'otpgate_replication_snapshots_total',
    help: 'Full snapshots applied (first sync and re-syncs)',
    registers: [this.registry],
  });
  // the cluster, on the master
  readonly replicasConnected = new Gauge({
    name: 'otpgate_cluster_replicas_connected',
    help: 'Replicas that contacted the master in the last minute',
    registers: [this.registry],
  });
  readonly replicaAckedSeq = new Gauge({
    name: 'otpgate_cluster_replica_acked_seq',
    help: 'Last sequence number each replica confirmed having applied',
    labelNames: ['replica'] as const,
    registers: [this.registry],
  });
  readonly headSeq = new Gauge({
    name: 'otpgate_cluster_head_seq',
    help: 'Sequence number of the newest change on this node',
    registers: [this.registry],
  });
  readonly lagBudget = new Gauge({
    name: 'otpgate_replication_lag_budget_seconds',
    help: 'Replica: the configured cluster.lag_budget_seconds (degraded beyond it), for alert rules to compare with',
    registers: [this.registry],
  });
  readonly maxStaleness = new Gauge({
    name: 'otpgate_replication_max_staleness_seconds',
    help: 'Replica: the configured cluster.max_staleness_seconds (not ready once its copy of the master is older)',
    registers: [this.registry],
  });
  private degradedSource: (() => boolean | undefined) | undefined;
  readonly replicationDegraded = new Gauge({
    name: 'otpgate_replication_degraded',
    help: 'Replica: 1 while out of step with its master beyond the lag budget (it answers from its last good state and stays ready until max staleness), else 0',
    registers: [this.registry],
    collect: () => {
      const degraded = this.degradedSource?.();
      if (degraded !== undefined) this.replicationDegraded.set(degraded ? 1 : 0);
    },
  });

  // operations
  readonly ready = new Gauge({
    name: 'otpgate_ready',
    help: '1 when the node is ready to answer RADIUS (what /readyz says), else 0',
    registers: [this.registry],
  });
  private certificateSource: (() => CertificateExpiry[]) | undefined;
  readonly certificateExpiry = new Gauge({
    name: 'otpgate_certificate_expiry_timestamp_seconds',
    help: 'When each certificate this node uses expires (Unix time), read from its file at every scrape',
    labelNames: ['certificate'] as const,
    registers: [this.registry],
    collect: () => this.collectCertificates(),
  });
  private readonly maps = new Map<string, Array<() => number>>();
  readonly mapEntries = new Gauge({
    name: 'otpgate_bounded_map_entries',
    help: 'Entries held in each bounded in-memory map (sign-in throttles, web sessions...), read at every scrape',
    labelNames: ['map'] as const,
    registers: [this.registry],
    collect: () => {
      for (const [name, sizes] of this.maps) this.mapEntries.set({ map: name }, sizes.reduce((sum, size) => sum + size(), 0));
    },
  });
  readonly mapEvictions = new Counter({
    name: 'otpgate_bounded_map_evictions_total',
    help: 'Live entries a bounded map dropped because it was full: a steady rise means a flood of new keys',
    labelNames: ['map'] as const,
    registers: [this.registry],
  });
  readonly syslogDropped = new Counter({
    name: 'otpgate_syslog_dropped_lines_total',
    help: 'Log lines not sent to the syslog collector (unreachable long enough for the queue to fill)',
    registers: [this.registry],
  });

  /** When the replica last heard from its master (ms since the epoch), read at every scrape. */
  watchContact(source: () => number | undefined): void {
    this.contactSource = source;
  }

  /** Whether the replica is out of step with its master (see replicationDegraded), read at every scrape. */
  watchDegraded(source: () => boolean | undefined): void {
    this.degradedSource = source;
  }

  /** Where certificate expiry comes from (serve sets it: the files depend on the node's role and config). */
  watchCertificates(source: () => CertificateExpiry[]): void {
    this.certificateSource = source;
  }

  /** A bounded map to report (BoundedMap calls this); maps of the same name are added up. */
  watchMap(name: string, size: () => number): { evicted(): void } {
    let sizes = this.maps.get(name);
    if (!sizes) this.maps.set(name, (sizes = []));
    sizes.push(size);
    const evictions = this.mapEvictions.labels(name);
    return { evicted: () => evictions.inc() };
  }

  private collectCertificates(): void {
    if (!this.certificateSource) return;
    this.certificateExpiry.reset();
    // a missing or unreadable file is simply not reported: the scrape must never fail because of it
    for (const c of this.certificateSource()) this.certificateExpiry.set({ certificate: c.certificate }, Math.floor(c.expiresAt / 1000));
  }

  private readonly answeredChildren = new Map<string, { count: { inc(): void }; latency: { observe(v: number): void } }>();

  /**
   * Count one answered request and its latency. The labelled children are cached: prom-client hashes the label
   * object on every call otherwise, a measurable cost at tens of thousands of requests a second.
   */
  answered(client: string, code: string, result: string, seconds: number): void {
    const key = `${client}\0${code}\0${result}`;
    let children = this.answeredChildren.get(key);
    if (!children) {
      children = { count: this.requests.labels(client, code, result), latency: this.latency.labels(result) };
      this.answeredChildren.set(key, children);
    }
    children.count.inc();
    children.latency.observe(seconds);
  }

  constructor(options: { processMetrics?: boolean } = {}) {
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry });
  }
}
