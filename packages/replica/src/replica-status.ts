import type { CheckResult, Store } from '@otpgate/core';
import type { ReplicaSelfStatus, ReplicaSyncState } from '@otpgate/shared';

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

/** The replica's state with the readiness verdict against the lag budget (cluster.lag_budget_seconds). */
export function replicaSelfStatus(store: Store, budgetSeconds: number, now = Date.now()): ReplicaSelfStatus {
  const state = replicaStatus(store, now);
  const verdict = judgeReplication(state, budgetSeconds);
  return { ...state, healthy: verdict.ok, health_detail: verdict.detail };
}

/**
 * A replica is ready while it hears from its master: the last exchange no longer ago than the budget, and the oldest
 * change it has not applied no older than the budget.
 */
export function judgeReplication(s: ReplicaSyncState, budgetSeconds: number): CheckResult {
  const lagText = s.lag_entries === null ? '' : `, ${s.lag_entries} change${s.lag_entries === 1 ? '' : 's'} behind`;
  if (s.last_contact_at === null || s.seconds_since_contact === null) {
    return { ok: false, detail: `never reached the master at ${s.master_url ?? '?'} (waiting for the first snapshot)${errorText(s.last_error)}` };
  }
  if (s.seconds_since_contact > budgetSeconds) {
    return {
      ok: false,
      detail: `no contact with the master for ${Math.round(s.seconds_since_contact)} s (budget ${budgetSeconds} s)${lagText}${errorText(s.last_error)}`,
    };
  }
  const lagSeconds = s.lag_seconds ?? 0;
  if (lagSeconds > budgetSeconds) {
    return { ok: false, detail: `the oldest change not applied is ${Math.round(lagSeconds)} s old (budget ${budgetSeconds} s)${lagText}` };
  }
  return { ok: true, detail: `master contacted ${s.seconds_since_contact} s ago${lagText}, lag ${lagSeconds} s (budget ${budgetSeconds} s)` };
}

function errorText(error: string | null): string {
  return error ? `; last error: ${error}` : '';
}
