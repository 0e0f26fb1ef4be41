/**
 * Replay steps in the state database, as every part of the cluster stores and moves them: a RADIUS accept on any node,
 * a step a replica reports to the master, the master publishing steps to its replicas. One upsert serves all: a step
 * is stored only when it is past the stored one, and stored as not yet known to the master (`reported = 0`).
 */
import type { OtpKind, Settings, TokenStateRecord } from '@otpgate/shared';
import { timeStep } from '../otp/verify.js';
import type { Store } from './store.js';

/** (token_id, last_step, drift, updated_at): changes 1 row when the step was past the stored one. */
export const USE_STEP_SQL = `insert into token_state (token_id, last_step, drift, updated_at, reported) values (?, ?, ?, ?, 0)
  on conflict (token_id) do update set last_step = excluded.last_step, drift = excluded.drift,
    updated_at = excluded.updated_at, reported = 0
  where token_state.last_step < excluded.last_step`;

/** Steps a node may take beyond the window, for clocks a little apart and a report sent a moment after the accept. */
export const STEP_REPORT_SLACK = 2;

export type StepRefusal = 'unknown-token' | 'outside-window';

export interface StepReportResult {
  /** Steps stored (past what the master had). */
  stored: number;
  /** Steps refused, each with why: never stored, never published. */
  refused: Array<{ token_id: number; step: number; reason: StepRefusal }>;
}

interface TokenWindow {
  id: number;
  kind: OtpKind;
  period: 30 | 60;
  t0: number;
  counter: number;
  window_future: number | null;
}

/**
 * The master takes steps a replica accepted. A step is taken only if the replica could have accepted it: within the
 * token's window ahead of the master's clock (TOTP, with the drift the master knows) or within the counter window
 * ahead of the counter the master knows (HOTP), plus STEP_REPORT_SLACK. Anything else — a step far in the future that
 * would make every code a replay — is refused, whatever certificate the replica holds.
 */
export function recordReportedSteps(store: Store, steps: readonly TokenStateRecord[], settings: Settings, now = Date.now()): StepReportResult {
  const result: StepReportResult = { stored: 0, refused: [] };
  if (steps.length === 0) return result;
  const ids = JSON.stringify([...new Set(steps.map((s) => s.token_id))]);
  const windows = new Map(
    (store.db
      .prepare('select id, kind, period, t0, counter, window_future from tokens where id in (select value from json_each(?))')
      .all(ids) as TokenWindow[]).map((t) => [t.id, t]),
  );
  const known = store.state.prepare('select last_step, drift from token_state where token_id = ?');
  const use = store.state.prepare(USE_STEP_SQL);
  store.state.transaction(() => {
    for (const s of steps) {
      const token = windows.get(s.token_id);
      if (!token) {
        result.refused.push({ token_id: s.token_id, step: s.last_step, reason: 'unknown-token' });
        continue;
      }
      const current = known.get(s.token_id) as { last_step: number; drift: number } | undefined;
      const highest =
        token.kind === 'hotp'
          ? Math.max(token.counter, (current?.last_step ?? -1) + 1) + settings.otp.hotp_window - 1
          : timeStep(token, now) + Math.max(0, current?.drift ?? 0) + (token.window_future ?? settings.otp.window_future);
      if (s.last_step < 0 || s.last_step > highest + STEP_REPORT_SLACK) {
        result.refused.push({ token_id: s.token_id, step: s.last_step, reason: 'outside-window' });
        continue;
      }
      if (use.run(s.token_id, s.last_step, s.drift, now).changes === 1) result.stored++;
    }
  });
  return result;
}

/** Steps not yet known to the master (a replica's to report; a master's to publish), oldest token first. */
export function unreportedSteps(store: Store, limit: number): TokenStateRecord[] {
  return store.state
    .prepare('select token_id, last_step, drift from token_state where reported = 0 order by token_id limit ?')
    .all(limit) as TokenStateRecord[];
}

/** The master knows these now; a step that moved on meanwhile stays unreported. */
export function markStepsReported(store: Store, steps: readonly TokenStateRecord[]): void {
  if (steps.length === 0) return;
  const mark = store.state.prepare('update token_state set reported = 1 where token_id = ? and last_step = ?');
  store.state.transaction(() => {
    for (const s of steps) mark.run(s.token_id, s.last_step);
  });
}

/**
 * Before a snapshot's steps are merged on a replica: drop every step the master already knew, so the snapshot's value
 * replaces it (a reset on the master reaches a replica that missed its log entry). Steps used here and not yet
 * reported stay. Call inside the state database's transaction that merges the snapshot.
 */
export function forgetReportedSteps(store: Store): void {
  store.state.prepare('delete from token_state where reported = 1').run();
}

/**
 * Master: put the steps used here (by RADIUS, or reported by replicas) into the change log, so every replica learns
 * them; with no replica following, they are only marked. Returns how many were published.
 */
export function publishSteps(store: Store, limit = 1000): number {
  const steps = unreportedSteps(store, limit);
  if (steps.length === 0) return 0;
  if (store.publishSteps) {
    store.db.transaction(() => {
      for (const s of steps) store.logChange({ entity: 'token_state', op: 'upsert', key: String(s.token_id), data: s });
    });
    store.notifyChanged(false);
  }
  markStepsReported(store, steps);
  return store.publishSteps ? steps.length : 0;
}
