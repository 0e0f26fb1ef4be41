import type { HealthCheck, Store } from '@otpgate/core';
import { judgeReplication, replicaStatus } from './replica-status.js';

/**
 * The replica's readiness check (see judgeReplication). Read from the store, so the serving process (/readyz) and
 * `otpgate status` (another process) judge alike.
 */
export function replicationCheck(store: Store, budgetSeconds: number, now: () => number = Date.now): HealthCheck {
  return {
    name: 'replication',
    run: () => judgeReplication(replicaStatus(store, now()), budgetSeconds),
  };
}
