/**
 * One checkpoint of a database file's write-ahead log, as the node's checkpoint thread runs it every second for each
 * file (workers/checkpoint-thread.ts); the serving threads' commits never checkpoint.
 *
 * SQLite's automatic checkpoint runs in the connection that commits, once the WAL holds 1000 pages, and only moves
 * what no reader still needs; it can start the WAL over only when no reader uses it. Under load the RADIUS threads'
 * reads always overlap, so the WAL was never started over: it grew by about 1 KB per request for as long as the load
 * lasted (19 MB for 20,000 requests), every commit past the first 1000 pages ran a checkpoint of its own (with an
 * fsync) on a serving thread, and every page read searched a WAL index that kept growing. And after a bulk change by
 * another process, the first small commit on a serving thread copied the whole log. Here the pages are moved (PASSIVE:
 * no waiting) and, once the WAL holds RESTART_FRAMES pages, the readers of that moment get up to RESTART_WAIT_MS to
 * finish (their reads last one turn of an event loop) before the WAL starts over. Writers wait meanwhile: the RADIUS
 * threads' batches retry without blocking (write-batcher.ts).
 */
import type BetterSqlite3 from 'better-sqlite3';

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

/** One checkpoint of the file `sqlite` is connected to (see the file's comment); its busy timeout is put back after. */
export function checkpointWal(sqlite: BetterSqlite3.Database): CheckpointResult {
  const [passive] = sqlite.pragma('wal_checkpoint(PASSIVE)') as CheckpointRow[];
  const frames = passive?.log ?? 0;
  if (frames < RESTART_FRAMES) return { frames, restarted: false };
  const waited = sqlite.pragma('busy_timeout', { simple: true }) as number;
  sqlite.pragma(`busy_timeout = ${RESTART_WAIT_MS}`);
  try {
    const [restart] = sqlite.pragma('wal_checkpoint(RESTART)') as CheckpointRow[];
    return { frames, restarted: restart?.busy === 0 };
  } finally {
    sqlite.pragma(`busy_timeout = ${waited}`);
  }
}
