/**
 * Replay steps in the state database, as every part of the cluster stores and moves them: a RADIUS accept on any node,
 * a step a replica reports to the master, the master publishing steps to its replicas. One upsert serves all: a step
 * is stored only when it is past the stored one, and stored as not yet known to the master (`reported = 0`).
 */
import type { OtpKind, Settings, TokenStateRecord } from '@otpgate/shared';
import { timeStep } from '../otp/verify.js';
import type { Store } from './store.js';

/**
 * (token_id, last_step, drift, updated_at, reported, request_key): changes 1 row when the step was past the stored
 * one. `reported` is 0 for a step the master must still learn or publish, 1 on a master no replica follows (nothing
 * to publish: a replica enrolled later gets every step in its first snapshot). The request key names the RADIUS
 * request that used it here (or the replica that reported it).
 */
export const USE_STEP_SQL = `insert into token_state (token_id, last_step, drift, updated_at, reported, request_key) values (?, ?, ?, ?, ?, ?)
  on conflict (token_id) do update set last_step = excluded.last_step, drift = excluded.drift,
    updated_at = excluded.updated_at, reported = excluded.reported, request_key = excluded.request_key
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
 * The highest step a node could have accepted for each token now: within the token's window ahead of this clock
 * (TOTP, with the drift the master knows) or within the counter window ahead of the counter the master knows (HOTP),
 * plus STEP_REPORT_SLACK. Tokens that do not exist are missing from the map.
 */
function highestSteps(store: Store, tokenIds: readonly number[], settings: Settings, now: number): Map<number, number> {
  const windows = store.db
    .prepare('select id, kind, period, t0, counter, window_future from tokens where id in (select value from json_each(?))')
    .all(JSON.stringify([...new Set(tokenIds)])) as TokenWindow[];
  const known = store.state.prepare('select last_step, drift from token_state where token_id = ?');
  const highest = new Map<number, number>();
  for (const token of windows) {
    const current = known.get(token.id) as { last_step: number; drift: number } | undefined;
    const last =
      token.kind === 'hotp'
        ? Math.max(token.counter, (current?.last_step ?? -1) + 1) + settings.otp.hotp_window - 1
        : timeStep(token, now) + Math.max(0, current?.drift ?? 0) + (token.window_future ?? settings.otp.window_future);
    highest.set(token.id, last + STEP_REPORT_SLACK);
  }
  return highest;
}

function refusal(highest: Map<number, number>, s: TokenStateRecord): StepRefusal | undefined {
  const top = highest.get(s.token_id);
  if (top === undefined) return 'unknown-token';
  return s.last_step < 0 || s.last_step > top ? 'outside-window' : undefined;
}

/**
 * The master takes steps a replica accepted. A step is taken only if the replica could have accepted it (see
 * highestSteps). Anything else — a step far in the future that would make every code a replay — is refused, whatever
 * certificate the replica holds.
 */
export function recordReportedSteps(store: Store, steps: readonly TokenStateRecord[], settings: Settings, replica: string, now = Date.now()): StepReportResult {
  const result: StepReportResult = { stored: 0, refused: [] };
  if (steps.length === 0) return result;
  const highest = highestSteps(store, steps.map((s) => s.token_id), settings, now);
  const use = store.state.prepare(USE_STEP_SQL);
  store.state.transaction(() => {
    for (const s of steps) {
      const reason = refusal(highest, s);
      if (reason) result.refused.push({ token_id: s.token_id, step: s.last_step, reason });
      else if (use.run(s.token_id, s.last_step, s.drift, now, 0, replicaKey(replica)).changes === 1) result.stored++;
    }
  });
  return result;
}

export type ClaimResult = { claimed: true } | { claimed: false; reason: 'replay' | StepRefusal };

/** How the master notes, with a step, the replica that used it (its report and its claim may come in either order). */
const replicaKey = (replica: string) => `replica:${replica}`;

/**
 * The master, asked by a replica before it answers Accept: is this step still unused in the cluster? The same
 * conditional write as a local accept, in the master's state database: exactly one node gets `claimed` for a step.
 * A step already stored for this same replica (its report overtook its claim) is its own: claimed.
 */
export function claimStep(store: Store, step: TokenStateRecord, settings: Settings, replica: string, now = Date.now()): ClaimResult {
  const reason = refusal(highestSteps(store, [step.token_id], settings, now), step);
  if (reason) return { claimed: false, reason };
  const key = replicaKey(replica);
  const claimed = store.state.transaction(() => {
    if (store.state.prepare(USE_STEP_SQL).run(step.token_id, step.last_step, step.drift, now, 0, key).changes === 1) return true;
    const stored = store.state.prepare('select last_step, request_key from token_state where token_id = ?').get(step.token_id) as
      | { last_step: number; request_key: string | null }
      | undefined;
    return stored?.last_step === step.last_step && stored.request_key === key;
  });
  return claimed ? { claimed: true } : { claimed: false, reason: 'replay' };
}

/** Steps not yet known to the master (a replica's to report; a master's to publish), in token order. */
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
