import type { Store } from '../store/store.js';
import { probeStateWrite, type StoreHealth } from '../store/store-health.js';
import type { RadiusWorkersStatus } from '../workers/radius-workers.js';
import type { ListenAddress } from '@otpgate/shared';
import { formatListenAddress, errorMessage } from '@otpgate/shared';

/**
 * One readiness condition and what a person needs to know about it. Ready means "answers RADIUS correctly now";
 * `degraded` marks a check that is ok by that measure but reports trouble an admin should look at (a replica out of
 * step with its master, answering from its last good state): reported beside readiness, never as not ready, since a
 * load balancer that follows it would remove every replica exactly when the master is down.
 */
export interface CheckResult {
  ok: boolean;
  degraded?: boolean;
  detail: string;
}

export interface HealthCheck {
  name: string;
  run(): CheckResult;
}

/** What /readyz answers and `otpgate status` prints. */
export interface ReadinessReport {
  ready: boolean;
  /** "check: detail" of every check that is ok but degraded (empty when none). */
  degraded: string[];
  checks: Record<string, CheckResult>;
}

/** Run every check; one that throws counts as failed with its message, never as an error of the caller. */
export function evaluateReadiness(checks: readonly HealthCheck[]): ReadinessReport {
  const results: Record<string, CheckResult> = {};
  for (const check of checks) {
    try {
      results[check.name] = check.run();
    } catch (err) {
      results[check.name] = { ok: false, detail: `check failed: ${errorMessage(err)}` };
    }
  }
  return summarizeChecks(results);
}

/** The verdict over check results (also for results gathered from several places, as `otpgate status` does). */
export function summarizeChecks(checks: Record<string, CheckResult>): ReadinessReport {
  const entries = Object.entries(checks);
  return {
    ready: entries.every(([, r]) => r.ok),
    degraded: entries.filter(([, r]) => r.ok && r.degraded).map(([name, r]) => `${name}: ${r.detail}`),
    checks,
  };
}

/** The one-word state /readyz and `otpgate status` give: ready, degraded (ready, with trouble) or not-ready. */
export function readinessStatus(report: Pick<ReadinessReport, 'ready' | 'degraded'>): 'ready' | 'degraded' | 'not-ready' {
  if (!report.ready) return 'not-ready';
  return report.degraded.length > 0 ? 'degraded' : 'ready';
}

/**
 * The databases answer a query (open and readable), and the state database takes writes: a node that cannot store
 * the step an Accept uses answers no Accept, so it must not be sent traffic. While writes fail, each check (at most
 * once a second) tries a small write, so the node turns ready again as soon as they work.
 */
export function storeCheck(store: Store, health?: StoreHealth, elsewhere?: () => { reason: string; since: number } | undefined): HealthCheck {
  return {
    name: 'store',
    run() {
      if (!store.db.sqlite.open) return { ok: false, detail: 'the database is closed (the node is stopping)' };
      store.db.prepare('select 1').get();
      health?.recheck(() => probeStateWrite(store.state));
      // `elsewhere`: the RADIUS threads, which probe for themselves
      const problem = health?.problem ?? elsewhere?.();
      if (problem) {
        return { ok: false, detail: `store not writable since ${new Date(problem.since).toISOString()}: ${problem.reason}` };
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
