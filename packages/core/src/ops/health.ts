import type { Store } from '../store/store.js';
import type { RadiusWorkersStatus } from '../workers/radius-workers.js';
import type { ListenAddress } from '@otpgate/shared';
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
export function storeCheck(store: Store, problem?: () => { reason: string; since: number } | undefined): HealthCheck {
  return {
    name: 'store',
    run() {
      if (!store.db.sqlite.open) return { ok: false, detail: 'the database is closed (the node is stopping)' };
      store.db.prepare('select 1').get();
      const failing = problem?.();
      if (failing) {
        return { ok: false, detail: `store not writable since ${new Date(failing.since).toISOString()}: ${failing.reason}` };
      }
      return { ok: true, detail: `open, at change ${store.headSeq()}` };
    },
  };
}

/**
 * At least one RADIUS worker thread listens (a new replica starts them only after its first snapshot). One that died
 * and is being started again is named in the detail; the others serve meanwhile.
 */
export function radiusCheck(radius: { addresses(): ListenAddress[]; status(): RadiusWorkersStatus }): HealthCheck {
  return {
    name: 'radius',
    run() {
      const bound = radius.addresses();
      const { configured, listening, restarts, lastExit } = radius.status();
      if (bound.length === 0 || listening === 0) return { ok: false, detail: 'RADIUS is not listening (starting, waiting for the first snapshot, or stopping)' };
      const down = listening < configured ? `; ${configured - listening} restarting after: ${lastExit ?? 'an unknown error'}` : '';
      const restarted = restarts > 0 ? ` (${restarts} restarts so far)` : '';
      return { ok: true, detail: `listening on ${bound.map(formatListenAddress).join(', ')} with ${listening} of ${configured} workers${down}${restarted}` };
    },
  };
}
