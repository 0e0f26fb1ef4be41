/**
 * Checkpoints of the state database, done by the node's main thread rather than by the RADIUS threads' commits.
 *
 * SQLite's automatic checkpoint runs in the connection that commits, once the WAL holds 1000 pages, and only moves
 * what no reader still needs; it can start the WAL over only when no reader uses it. Under load the RADIUS threads'
 * reads always overlap, so the WAL was never started over: it grew by about 1 KB per request for as long as the load
 * lasted (19 MB for 20,000 requests), every commit of every thread past the first 1000 pages ran a checkpoint of its
 * own (with an fsync), and every page read searched a WAL index that kept growing: a node got slower with every
 * minute of load. Here the RADIUS threads' connections never checkpoint; the main thread moves the pages every
 * CHECKPOINT_INTERVAL_MS and, once the WAL holds RESTART_FRAMES pages, waits up to RESTART_WAIT_MS for the readers of
 * that moment to finish (their reads last one turn of an event loop) and starts it over. Writers wait meanwhile: the
 * RADIUS threads' batches retry without blocking (write-batcher.ts).
 */
import type { Logger } from '../logger.js';
import { LogLimiter } from '../logger.js';
import type { StateDatabase } from './store.js';
import { describeWriteError } from './store-health.js';

export const CHECKPOINT_INTERVAL_MS = 1000;
/** WAL pages (4 KiB each) past which the WAL is started over: SQLite's own autocheckpoint threshold. */
const RESTART_FRAMES = 1000;
const RESTART_WAIT_MS = 50;

interface CheckpointRow {
  busy: number;
  log: number;
  checkpointed: number;
}

export interface CheckpointResult {
  /** Pages in the WAL before this checkpoint. */
  frames: number;
  /** Whether the WAL was started over. */
  restarted: boolean;
}

/** One checkpoint of the state database (see the file's comment). */
export function checkpointState(state: StateDatabase): CheckpointResult {
  const [passive] = state.sqlite.pragma('wal_checkpoint(PASSIVE)') as CheckpointRow[];
  const frames = passive?.log ?? 0;
  if (frames < RESTART_FRAMES) return { frames, restarted: false };
  const waited = state.sqlite.pragma('busy_timeout', { simple: true }) as number;
  state.sqlite.pragma(`busy_timeout = ${RESTART_WAIT_MS}`);
  try {
    const [restart] = state.sqlite.pragma('wal_checkpoint(RESTART)') as CheckpointRow[];
    return { frames, restarted: restart?.busy === 0 };
  } finally {
    state.sqlite.pragma(`busy_timeout = ${waited}`);
  }
}

/** Checkpoint every CHECKPOINT_INTERVAL_MS until stopped; a failure (a full disk) is logged once a minute. */
export function scheduleStateCheckpoints(state: StateDatabase, logger: Logger): { stop(): void } {
  const failures = new LogLimiter(60_000);
  const timer = setInterval(() => {
    try {
      checkpointState(state);
    } catch (err) {
      if (failures.allow('checkpoint')) {
        logger.warn({ event: 'checkpoint-failed', err: describeWriteError(err) }, `checkpointing the state database failed: ${describeWriteError(err)} (at most one line a minute)`);
      }
    }
  }, CHECKPOINT_INTERVAL_MS);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
