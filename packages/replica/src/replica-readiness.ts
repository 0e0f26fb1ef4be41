import type { HealthCheck, Store } from '@otpgate/core';
import { replicaStatus } from './replica-status.js';

/**
 * A replica is ready while it hears from its master: the last exchange no longer ago than the budget, and the oldest
 * change it has not applied no older than the budget. Read from the store, so the serving process (/readyz) and
 * `otpgate status` (another process) judge alike.
 */
export function replicationCheck(store: Store, budgetSeconds: number, now: () => number = Date.now): HealthCheck {
  return {
    name: 'replication',
    run() {
      const s = replicaStatus(store, now());
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
      const lagSeconds = Number(store.getMeta('lag_seconds') ?? 0);
      if (lagSeconds > budgetSeconds) {
        return { ok: false, detail: `the oldest change not applied is ${Math.round(lagSeconds)} s old (budget ${budgetSeconds} s)${lagText}` };
      }
      return { ok: true, detail: `master contacted ${s.seconds_since_contact} s ago${lagText}, lag ${lagSeconds} s (budget ${budgetSeconds} s)` };
    },
  };
}

function errorText(error: string | null): string {
  return error ? `; last error: ${error}` : '';
}
