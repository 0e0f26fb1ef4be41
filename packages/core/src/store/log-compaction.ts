/**
 * Change log compaction. Every accepted code is a token_state entry once replicas follow the master, so the log would
 * grow forever; entries that every follower has applied are no longer needed. They are deleted from the oldest, a
 * chunk per transaction with a turn of the event loop between, and the log base (log_base_seq, log_base_hash) moves
 * to the last one deleted in the same transaction, so the chain continues from the base and changeHashAt still
 * answers for it. A replica behind the base (away longer than the horizon) is told to re-sync from a snapshot.
 *
 * Runs at start and then every few minutes, and only when at least COMPACTION_MIN_ENTRIES can go: each move of the
 * base drops the node's user cache (user-directory.ts), which must stay rare. The newest COMPACTION_KEEP_TAIL entries
 * always stay.
 */
import type { Logger } from '../logger.js';
import type { Database } from './database.js';
import { logBase, setLogBase, type ChangeHead } from './change-log.js';
import { repeatInBackground, type RetentionJob } from './retention.js';
import type { Store } from './store.js';
import { errorMessage } from '@otpgate/shared';

export const COMPACTION_CHUNK = 5000;
export const COMPACTION_MIN_ENTRIES = 10_000;
export const COMPACTION_KEEP_TAIL = 1000;
export const COMPACTION_EVERY_MS = 5 * 60_000;
const DAY_MS = 86_400_000;

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Delete the entries up to `upTo` (never past the head), `chunkRows` per transaction; returns how many went. The
 * base moves with each chunk, so a stop between chunks leaves a consistent log.
 */
export async function compactChangeLog(
  db: Database,
  upTo: number,
  options: { chunkRows?: number; stopped?: () => boolean } = {},
): Promise<number> {
  const chunk = options.chunkRows ?? COMPACTION_CHUNK;
  const stopped = options.stopped ?? (() => false);
  // the seq is the primary key: both lookups walk its index
  const nth = db.prepare('select seq, hash from changes where seq <= ? order by seq limit 1 offset ?');
  const last = db.prepare('select seq, hash from changes where seq <= ? order by seq desc limit 1');
  const head = db.prepare('select max(seq) as seq from changes');
  const remove = db.prepare('delete from changes where seq <= ?');
  let deleted = 0;
  while (!stopped()) {
    // the head entry stays: it is what the next change chains to (and what a replica's position is checked against)
    const limit = Math.min(upTo, ((head.get() as { seq: number | null }).seq ?? 0) - 1);
    const target = (nth.get(limit, chunk - 1) ?? last.get(limit)) as ChangeHead | undefined;
    if (!target) break;
    const n = db.transaction(() => {
      const removed = remove.run(target.seq).changes;
      setLogBase(db, target);
      return removed;
    });
    deleted += n;
    if (n < chunk) break;
    await nextTurn();
  }
  return deleted;
}

/**
 * Master: the last entry every follower has applied, so everything up to it may go: the lowest position acknowledged
 * by an enrolled replica seen within `horizonMs` (one away longer re-syncs from a snapshot when it is back; one never
 * seen starts from a snapshot anyway), and never within the newest COMPACTION_KEEP_TAIL entries.
 */
export function compactionFloor(store: Store, horizonDays: number, now = Date.now()): number {
  const db = store.db;
  const lowest = db.first(
    db.q
      .selectFrom('replicas')
      .select((eb) => eb.fn.min('acked_seq').as('acked'))
      .where('revoked_at', 'is', null)
      .where('last_seen_at', '>=', now - horizonDays * DAY_MS),
  )?.acked;
  const head = store.head().seq;
  return Math.min(head - COMPACTION_KEEP_TAIL, lowest ?? head);
}

export interface CompactionOptions {
  everyMs?: number;
  minEntries?: number;
  chunkRows?: number;
}

/** Compact the store's log up to `floor()` now and every few minutes (see the file's comment) until stopped. */
export function scheduleLogCompaction(store: Store, logger: Logger, floor: () => number, options: CompactionOptions = {}): RetentionJob {
  const minEntries = options.minEntries ?? COMPACTION_MIN_ENTRIES;
  return repeatInBackground(async (stopped) => {
    try {
      const upTo = floor();
      const base = logBase(store.db).seq;
      if (upTo - base < minEntries) return;
      const deleted = await compactChangeLog(store.db, upTo, { chunkRows: options.chunkRows, stopped });
      const now = logBase(store.db).seq;
      logger.info(
        { event: 'log-compaction', deleted, from: base, base: now },
        `change log compacted: ${deleted} entries up to change ${now} removed (every follower has them)`,
      );
    } catch (err) {
      logger.warn({ event: 'log-compaction-failed', err: errorMessage(err) }, 'compacting the change log failed; trying again later');
    }
  }, options.everyMs ?? COMPACTION_EVERY_MS);
}
