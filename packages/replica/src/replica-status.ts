import type { CheckResult, Store } from '@otpgate/core';
import type { NodeConfig, ReplicaSelfStatus, ReplicaSyncState } from '@otpgate/shared';

/** What a replica is judged against: cluster.lag_budget_seconds (degraded) and cluster.max_staleness_seconds (not ready). */
export type ReplicationLimits = Pick<NodeConfig['cluster'], 'lag_budget_seconds' | 'max_staleness_seconds'>;

/** A replica's view of itself (read from its store, so the CLI sees what the serving process recorded). */
export function replicaStatus(store: Store, now = Date.now()): ReplicaSyncState {
  const num = (key: string) => {
    const v = store.getMeta(key);
    return v === undefined ? null : Number(v);
  };
  const applied = store.head().seq;
  const masterHead = num('master_head_seq');
  const contact = num('last_contact_at');
  return {
    role: 'replica',
    name: store.getMeta('replica_name') ?? null,
    master_url: store.getMeta('master_url') ?? null,
    applied_seq: applied,
    master_head_seq: masterHead,
    lag_entries: masterHead === null ? null : Math.max(0, masterHead - applied),
    lag_seconds: num('lag_seconds'),
    last_contact_at: contact,
    seconds_since_contact: contact === null ? null : Math.round((now - contact) / 100) / 10,
    last_error: store.getMeta('last_feed_error') ?? null,
  };
}

/** The replica's state with the verdict against its limits. */
export function replicaSelfStatus(store: Store, limits: ReplicationLimits, now = Date.now()): ReplicaSelfStatus {
  const state = replicaStatus(store, now);
  const verdict = judgeReplication(state, limits);
  const degraded = verdict.ok && verdict.degraded === true;
  return { ...state, healthy: verdict.ok && !degraded, ready: verdict.ok, degraded, health_detail: verdict.detail };
}

/**
 * Ready means "answers RADIUS correctly now", and a replica does so from its last good copy of the master's state
 * whether or not the master is reachable. So it is:
 * - in step while the master was reached within the lag budget and no change older than that waits;
 * - degraded, still ready, beyond the budget (master down, network, certificate): the admin is told, load balancers
 *   keep it, which matters most exactly when the master is down and every replica is in the same position;
 * - not ready once its copy is older than cluster.max_staleness_seconds (it still answers; a load balancer may now
 *   prefer another node), or before its first snapshot.
 * The copy's age is the time since the last contact plus the age, then, of the oldest change not yet applied: the
 * master may have changed anything after that.
 */
export function judgeReplication(s: ReplicaSyncState, limits: ReplicationLimits): CheckResult {
  const budget = limits.lag_budget_seconds;
  const lagText = behindText(s);
  if (s.last_contact_at === null || s.seconds_since_contact === null) {
    return { ok: false, detail: `never reached the master at ${s.master_url ?? '?'} (waiting for the first snapshot)${errorText(s.last_error)}` };
  }
  const lagSeconds = s.lag_seconds ?? 0;
  const inStep = `master contacted ${s.seconds_since_contact} s ago${lagText}, lag ${lagSeconds} s (budget ${budget} s)`;
  const trouble = outOfStep(s, budget);
  const age = s.seconds_since_contact + lagSeconds;
  if (age > limits.max_staleness_seconds) {
    return {
      ok: false,
      detail:
        `its copy of the master's state is ${formatAge(age)} old, past cluster.max_staleness_seconds (${formatAge(limits.max_staleness_seconds)}): ` +
        `${trouble ?? inStep}; still answering RADIUS from it${errorText(s.last_error)}`,
    };
  }
  if (trouble) {
    return {
      ok: true,
      degraded: true,
      detail: `${trouble}; answering from its last good state, ready until that is ${formatAge(limits.max_staleness_seconds)} old${errorText(s.last_error)}`,
    };
  }
  return { ok: true, detail: inStep };
}

/** Why the replica is out of step with its master beyond the lag budget; undefined when it is not (or never synced). */
export function outOfStep(s: ReplicaSyncState, budgetSeconds: number): string | undefined {
  if (s.seconds_since_contact === null) return undefined;
  const lagText = behindText(s);
  if (s.seconds_since_contact > budgetSeconds) {
    return `no contact with the master for ${Math.round(s.seconds_since_contact)} s (budget ${budgetSeconds} s)${lagText}`;
  }
  const lagSeconds = s.lag_seconds ?? 0;
  if (lagSeconds > budgetSeconds) return `the oldest change not applied is ${Math.round(lagSeconds)} s old (budget ${budgetSeconds} s)${lagText}`;
  return undefined;
}

/** ", 3 changes behind" (nothing before the master's head is known). */
function behindText(s: ReplicaSyncState): string {
  return s.lag_entries === null ? '' : `, ${s.lag_entries} change${s.lag_entries === 1 ? '' : 's'} behind`;
}

/** "45 s", "12 min", "24 h", "24 h 2 min": the units a person reads an age in. */
function formatAge(seconds: number): string {
  if (seconds < 120) return `${Math.round(seconds)} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 120) return `${minutes} min`;
  return `${Math.floor(minutes / 60)} h${minutes % 60 ? ` ${minutes % 60} min` : ''}`;
}

function errorText(error: string | null): string {
  return error ? `; last error: ${error}` : '';
}
