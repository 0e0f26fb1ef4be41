import type { HealthCheck, Metrics, Store } from '@otpgate/core';
import { judgeReplication, outOfStep, replicaStatus, type ReplicationLimits } from './replica-status.js';

/**
 * The replica's readiness check (see judgeReplication): ready, degraded or not. Read from the store, so the serving
 * process (/readyz) and `otpgate status` (another process) judge alike.
 */
export function replicationCheck(store: Store, limits: ReplicationLimits, now: () => number = Date.now): HealthCheck {
  return {
    name: 'replication',
    run: () => judgeReplication(replicaStatus(store, now()), limits),
  };
}

/**
 * The replication gauges read at every scrape: seconds since the master was reached, whether the replica is out of
 * step with it (degraded), and the configured limits, for alert rules to compare with.
 */
export function watchReplication(metrics: Metrics, store: Store, limits: ReplicationLimits): void {
  metrics.lagBudget.set(limits.lag_budget_seconds);
  metrics.maxStaleness.set(limits.max_staleness_seconds);
  metrics.watchContact(() => {
    const at = store.getMeta('last_contact_at');
    return at === undefined ? undefined : Number(at);
  });
  // out of step whether or not it is still ready: this alert is about replication, readiness has its own
  metrics.watchDegraded(() => outOfStep(replicaStatus(store), limits.lag_budget_seconds) !== undefined);
}
