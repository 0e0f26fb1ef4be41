import type { NodeConfig, ReplicaSelfStatus } from '@otpgate/shared';
import {
  ClusterFiles,
  OpsServer,
  OtpgateNode,
  clusterCertificates,
  evaluateReadiness,
  openNodeLogging,
  radiusCheck,
  readCertificateExpiries,
  scheduleAdminAuditRetention,
  stopStoreJobs,
  storeCheck,
  type HealthCheck,
} from '@otpgate/core';
import { AdminServer, EnrollmentServer, ReplicationServer, isClusterInitialised } from '@otpgate/master';
import { FeedClient, StepReporter, replicaSelfStatus, replicationCheck, watchReplication } from '@otpgate/replica';
import { OPS_ENDPOINT_META } from './node-probe.js';

/** How long a stop may take before the process exits anyway (RADIUS answers in flight get 10 s of it). */
const STOP_GRACE_MS = 15_000;

interface Part {
  stop(): Promise<void>;
}

/**
 * `otpgate serve`, the composition root of a running node: RADIUS on every node; on a master with a cluster the
 * replication API; on a replica the feed client and the step reporter; on every node the metrics and health server.
 * A replica that never synced waits for its first snapshot before answering RADIUS, so it never rejects users it
 * simply does not know yet (its /readyz says so meanwhile).
 */
export async function serve(config: NodeConfig): Promise<void> {
  let node: OtpgateNode | undefined;
  const logging = openNodeLogging(config, {
    syslog: {
      // through the node's own log (stdout, and syslog once it is back): once per outage, not once per retry
      onStatus: (s) =>
        s.state === 'failed'
          ? logging.logger.warn({ event: 'syslog-unreachable', target: s.target, err: s.error }, `syslog collector ${s.target} unreachable: ${s.error}; lines are queued`)
          : logging.logger.info({ event: 'syslog-connected', target: s.target }, `sending logs to syslog collector ${s.target}`),
      onDrop: (n) => node?.metrics.syslogDropped.inc(n),
    },
  });
  try {
    node = await OtpgateNode.open(config, { logger: logging.logger, forwardLog: logging.forward });
  } catch (err) {
    await logging.close();
    throw err;
  }
  const opened = node;
  const parts: Part[] = [];
  let stopping: Promise<void> | undefined;
  const stopAll = () =>
    (stopping ??= (async () => {
      // a long write in a thread of its own (an import) ends first, rolled back: nothing waits for it
      await stopStoreJobs();
      for (const part of parts.reverse()) await part.stop().catch(() => undefined);
      await opened.stop();
      await logging.close();
    })());
  const stopped = new Promise<void>((resolve) => {
    const onSignal = (signal: string) => {
      opened.logger.info({ signal }, 'stopping');
      // whatever a part is waiting for, the node is gone within the grace period (systemd kills it after 20 s)
      setTimeout(() => {
        opened.logger.error({ event: 'stop-timeout', grace_seconds: STOP_GRACE_MS / 1000 }, 'stopping took longer than the grace period; exiting now');
        opened.logger.flush();
        process.exit(1);
      }, STOP_GRACE_MS).unref();
      void stopAll().then(resolve);
    };
    process.once('SIGINT', () => onSignal('SIGINT'));
    process.once('SIGTERM', () => onSignal('SIGTERM'));
  });

  try {
    // every node keeps its own audit log (admin UI sign-ins, CLI actions): pruned in the background, in small chunks
    parts.push(
      scheduleAdminAuditRetention(opened.store, opened.logger, {
        maxAgeMs: config.log.admin_audit_days * 86_400_000,
        maxRows: config.log.admin_audit_max_rows,
      }),
    );
    if (config.metrics.enabled) parts.push(await startOpsServer(config, opened));
    if (config.admin.enabled) parts.push(await AdminServer.start(opened, config, { replicaView: replicaViewOf(opened, config) }));
    if (opened.store.role === 'replica') {
      const feed = await FeedClient.create(opened.store, config, opened.logger, opened.metrics, opened.forwardLog);
      parts.push(feed);
      feed.start();
      if (!feed.synced) {
        opened.logger.info({ master: feed.masterUrl }, 'waiting for the first snapshot from the master before serving RADIUS');
        await Promise.race([feed.firstSync(), stopped]);
        if (stopping) return;
      }
      const reporter = new StepReporter(opened.store, config, opened.logger);
      parts.push(reporter);
      reporter.start();
    }
    await opened.start();
    // the portal creates tokens: master only; on a replica it does not listen at all
    if (config.enrollment.enabled && opened.store.role === 'master') parts.push(await EnrollmentServer.start(opened, config));
    else if (config.enrollment.enabled) opened.logger.warn('enrollment.enabled is ignored on a replica: users enrol on the master');
    if (opened.store.role === 'master' && isClusterInitialised(new ClusterFiles(opened.store.dataDir))) {
      const replication = await ReplicationServer.create({ store: opened.store, config, logger: opened.logger, metrics: opened.metrics });
      parts.push(replication);
      await replication.start();
    }
  } catch (err) {
    await stopAll();
    throw err;
  }
  await stopped;
}

/** Metrics, /healthz and /readyz; started first, so a replica waiting for its first snapshot is seen alive. */
async function startOpsServer(config: NodeConfig, node: OtpgateNode): Promise<OpsServer> {
  const store = node.store;
  const checks: HealthCheck[] = [storeCheck(store, node.storeHealth, () => node.radius.storeProblem()), radiusCheck(node.radius)];
  if (store.role === 'replica') {
    checks.push(replicationCheck(store, config.cluster));
    watchReplication(node.metrics, store, config.cluster);
  }
  const certificates = clusterCertificates(store.dataDir);
  if (config.metrics.tls_cert_file) certificates.push({ certificate: 'metrics-server', path: config.metrics.tls_cert_file });
  node.metrics.watchCertificates(() => readCertificateExpiries(certificates));
  const ops = new OpsServer({
    listen: config.metrics.listen,
    bearerToken: config.metrics.bearer_token,
    tls: config.metrics.tls_cert_file && config.metrics.tls_key_file ? { certFile: config.metrics.tls_cert_file, keyFile: config.metrics.tls_key_file } : undefined,
    metrics: node.metrics,
    exposition: () => node.metricsText(),
    readiness: () => evaluateReadiness(checks),
    identity: { node: node.name, role: store.role },
    logger: node.logger,
  });
  await ops.start();
  // where `otpgate status` finds this process (the port may have been 0, any free one)
  store.setMeta(OPS_ENDPOINT_META, JSON.stringify(ops.endpoints()));
  return ops;
}

/** The replica's status for its read-only admin page (the master package cannot import the replica's). */
function replicaViewOf(node: OtpgateNode, config: NodeConfig): (() => ReplicaSelfStatus) | undefined {
  if (node.store.role !== 'replica') return undefined;
  return () => replicaSelfStatus(node.store, config.cluster);
}
