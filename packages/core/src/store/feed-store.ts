/**
 * The replication feed's store API: what the master's replication server reads from the change log and takes from
 * the replicas' reports, and what a replica's step reporter reads and marks. The master and the replica reach the
 * database only through these, the replica registry (replica-registry.ts) and Store: a schema change touches core
 * alone.
 */
import { GENESIS_HASH, type ChangeEntry, type Settings, type StepReport } from '@otpgate/shared';
import { changeHashAt, logBase, readChanges, type ChangeHead } from './change-log.js';
import { markAuthBucketsReported, recordReportedAuthBuckets, unreportedAuthBuckets, type BucketReportResult } from './auth-buckets.js';
import { markFailuresReported, recordReportedFailures, unreportedFailures } from './lockouts.js';
import { markStepsReported, recordReportedSteps, unreportedSteps, type StepReportResult } from './token-state.js';
import type { Store } from './store.js';

/** What the master's log holds after an entry. */
export interface ChangeWindow {
  head: ChangeHead;
  /** Where the kept log starts: entries at or before it are gone (compacted, or before a snapshot). */
  base: ChangeHead;
  /** The hash of the entry asked after (null when the log does not reach it: `after` is ahead of head or before base). */
  afterHash: string | null;
  /** Up to `limit` entries after it, secrets in clear, oldest first; none when afterHash is null. */
  entries: ChangeEntry[];
}

/** The hash of entry `seq` as this node knows it, the genesis hash for 0, null when the log no longer holds it. */
export function feedHashAt(store: Store, seq: number): string | null {
  return seq === 0 ? GENESIS_HASH : (changeHashAt(store.db, seq) ?? null);
}

/** The entries after `after`, with what the master needs to tell a replica that it must take a snapshot instead. */
export function changesAfter(store: Store, after: number, limit: number): ChangeWindow {
  const head = store.head();
  const base = logBase(store.db);
  if (after > head.seq || after < base.seq) return { head, base, afterHash: null, entries: [] };
  return { head, base, afterHash: feedHashAt(store, after), entries: readChanges(store.db, store.sealKey, after, limit) };
}

/** When entry `seq` was made (undefined when the log no longer holds it): how far behind a replica is, in time. */
export function changeTime(store: Store, seq: number): number | undefined {
  return store.db.first(store.db.q.selectFrom('changes').select('at').where('seq', '=', seq))?.at;
}

/** What the master took from a replica's report. */
export interface ReportOutcome {
  steps: StepReportResult;
  /** Users locked out by the failures the report added. */
  locked: number;
  buckets: BucketReportResult;
}

/**
 * The master takes a replica's report: its used steps (each checked against the token's window: token-state.ts), its
 * failures and successes (the cluster-wide lockout: lockouts.ts) and its requests per 5 minutes (auth-buckets.ts).
 */
export function recordReport(store: Store, replica: string, report: StepReport, settings: Settings, now = Date.now()): ReportOutcome {
  return {
    steps: recordReportedSteps(store, report.steps, settings, replica, now),
    locked: recordReportedFailures(store, report.failures, settings, now),
    buckets: recordReportedAuthBuckets(store, replica, report.buckets, now),
  };
}

/** A replica's report to the master: up to `limit` of each kind not yet reported (empty lists when there is none). */
export function unreportedReport(store: Store, limit: number, now = Date.now()): StepReport {
  return { steps: unreportedSteps(store, limit), failures: unreportedFailures(store, limit), buckets: unreportedAuthBuckets(store, limit, now) };
}

/** The master has the report: each row is marked reported, unless it moved on meanwhile (it goes in the next one). */
export function markReported(store: Store, report: StepReport): void {
  markStepsReported(store, report.steps);
  markFailuresReported(store, report.failures);
  markAuthBucketsReported(store, report.buckets);
}

/** Whether the report carries nothing. */
export function isEmptyReport(report: StepReport): boolean {
  return report.steps.length === 0 && report.failures.length === 0 && report.buckets.length === 0;
}
