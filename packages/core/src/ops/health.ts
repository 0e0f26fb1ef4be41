import type { Store } from '../store/store.js';
import type { StoreHealth } from '../store/store-health.js';
import type { RadiusServer } from '../radius/server.js';
import { formatListenAddress } from '@otpgate/shared';

/** One readiness condition and what a person needs to know about it. */
export interface CheckResult {
  ok: boolean;
  detail: string;
}

export interface HealthCheck {
  name: string;
  run(): CheckResult;
}

/** What /readyz answers and `otpgate status` prints. */
export interface ReadinessReport {
  ready: boolean;
  checks: Record<string, CheckResult>;
}

/** Run every check; one that throws counts as failed with its message, never as an error of the caller. */
export function evaluateReadiness(checks: readonly HealthCheck[]): ReadinessReport {
  const results: Record<string, CheckResult> = {};
  for (const check of checks) {
    try {
      results[check.name] = check.run();
    } catch (err) {
      results[check.name] = { ok: false, detail: `check failed: ${(err as Error).message}` };
    }
  }
  return { ready: Object.values(results).every((r) => r.ok), checks: results };
}

/**
 * The databases answer a query (open and readable), and the state database takes writes: a node that cannot store
 * the step an Accept uses answers no Accept, so it must not be sent traffic.
 */
export function storeCheck(store: Store, health?: StoreHealth): HealthCheck {
  return {
    name: 'store',
    run() {
      if (!store.db.sqlite.open) return { ok: false, detail: 'the database is closed (the node is stopping)' };
      store.db.prepare('select 1').get();
      const problem = health?.problem;
      if (problem) {
        return { ok: false, detail: `store not writable since ${new Date(problem.since).toISOString()}: ${problem.reason}` };
      }
      return { ok: true, detail: `open, at change ${store.headSeq()}` };
    },
  };
}

/** At least one RADIUS socket is bound. A new replica binds only after its first snapshot. */
export function radiusCheck(radius: RadiusServer): HealthCheck {
  return {
    name: 'radius',
    run() {
      const bound = radius.addresses();
      if (bound.length === 0) return { ok: false, detail: 'RADIUS is not listening (starting, waiting for the first snapshot, or stopping)' };
      return { ok: true, detail: `listening on ${bound.map(formatListenAddress).join(', ')}` };
    },
  };
}
