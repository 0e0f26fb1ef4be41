import { describe, expect, it } from 'vitest';
import type { ReplicaSyncState } from '@otpgate/shared';
import { judgeReplication, outOfStep } from '@otpgate/replica';

const LIMITS = { lag_budget_seconds: 60, max_staleness_seconds: 86_400 };

function state(over: Partial<ReplicaSyncState>): ReplicaSyncState {
  return {
    role: 'replica',
    name: 'otp2',
    master_url: 'https://otp1.example.com:8444',
    applied_seq: 100,
    master_head_seq: 100,
    lag_entries: 0,
    lag_seconds: 0,
    last_contact_at: 1_000_000,
    seconds_since_contact: 2,
    last_error: null,
    ...over,
  };
}

describe('a replica judged against its lag budget and its staleness limit', () => {
  it('is ready and in step while it hears from its master within the budget', () => {
    expect(judgeReplication(state({}), LIMITS)).toEqual({ ok: true, detail: 'master contacted 2 s ago, 0 changes behind, lag 0 s (budget 60 s)' });
    expect(outOfStep(state({}), 60)).toBeUndefined();
  });

  it('stays ready but degraded when the master has been away past the budget: a load balancer keeps it', () => {
    const away = state({ seconds_since_contact: 75, last_error: 'unreachable: cannot reach the master' });
    expect(judgeReplication(away, LIMITS)).toEqual({
      ok: true,
      degraded: true,
      detail: 'no contact with the master for 75 s (budget 60 s), 0 changes behind; answering from its last good state, ready until that is 24 h old; last error: unreachable: cannot reach the master',
    });
    // three hours without the master: still ready
    expect(judgeReplication(state({ seconds_since_contact: 3 * 3600 }), LIMITS)).toMatchObject({ ok: true, degraded: true });
    expect(outOfStep(away, 60)).toBe('no contact with the master for 75 s (budget 60 s), 0 changes behind');
  });

  it('is degraded too when in contact but a change older than the budget waits', () => {
    const behind = state({ lag_seconds: 90, lag_entries: 12, master_head_seq: 112 });
    expect(judgeReplication(behind, LIMITS)).toMatchObject({ ok: true, degraded: true, detail: expect.stringMatching(/^the oldest change not applied is 90 s old \(budget 60 s\), 12 changes behind; /) });
  });

  it('turns not ready once its copy of the master is older than the staleness limit, and says it still answers', () => {
    const stale = judgeReplication(state({ seconds_since_contact: 86_000, lag_seconds: 500 }), LIMITS);
    expect(stale.ok).toBe(false);
    expect(stale.degraded).toBeUndefined();
    expect(stale.detail).toBe(
      "its copy of the master's state is 24 h 1 min old, past cluster.max_staleness_seconds (24 h): no contact with the master for 86000 s (budget 60 s), 0 changes behind; still answering RADIUS from it",
    );
    expect(judgeReplication(state({ seconds_since_contact: 86_399 }), LIMITS).ok).toBe(true);
  });

  it('is not ready before its first snapshot, and that is not "out of step"', () => {
    const fresh = state({ last_contact_at: null, seconds_since_contact: null, lag_entries: null, master_head_seq: null, lag_seconds: null, applied_seq: 0 });
    expect(judgeReplication(fresh, LIMITS)).toEqual({ ok: false, detail: 'never reached the master at https://otp1.example.com:8444 (waiting for the first snapshot)' });
    expect(outOfStep(fresh, 60)).toBeUndefined();
  });
});
