/**
 * Retention for the tables that grow with every request or admin action (admin_audit, auth_log): rows older than a
 * cutoff go, and past a row cap the oldest go too. Rows are deleted a chunk at a time and the event loop gets a turn
 * between chunks, so RADIUS answers and web pages keep flowing while a backlog of millions of rows is pruned.
 */
import type { Logger } from '../logger.js';
import type { Database } from './database.js';
import type { DB } from './schema.js';
import { errorMessage } from '@otpgate/shared';

/** Tables of schema S whose integer primary key `id` grows with every row (SQLite gives a new row max(id) + 1). */
export type RetainedTable<S = DB> = { [T in keyof S]: 'id' extends keyof S[T] ? T : never }[keyof S] & string;

export interface RetentionPolicy<T extends RetainedTable<S>, S = DB> {
  table: T;
  /** The row's time (ms since the epoch); it should be indexed. */
  timeColumn: keyof S[T] & string;
  /** Rows older than this go. */
  maxAgeMs: number;
  /** Then at most this many rows stay: the newest, by id. */
  maxRows: number;
  /** Rows deleted per statement: each holds the event loop for a few milliseconds at most. */
  chunkRows?: number;
}

export interface PruneRequest<T extends RetainedTable<S>, S = DB> extends Omit<RetentionPolicy<T, S>, 'maxAgeMs'> {
  /** Rows whose time is before this (ms since the epoch) go. */
  cutoff: number;
  /** Checked between chunks: true stops the pruning where it is (the node is stopping). */
  stopped?: () => boolean;
}

export interface PruneResult {
  /** Rows deleted for being older than the cutoff. */
  expired: number;
  /** Rows deleted for being beyond the row cap. */
  overCap: number;
}

export const DEFAULT_CHUNK_ROWS = 5000;
const HOUR_MS = 3600_000;

const quote = (name: string) => `"${name.replaceAll('"', '""')}"`;
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Delete, chunk by chunk, the rows older than `cutoff`, then the oldest rows beyond `maxRows`. The cap counts ids,
 * not rows: the rows kept are those with the `maxRows` highest ids, so finding them costs one index lookup instead
 * of a count of the table (where ids have gaps, fewer rows stay, never more).
 */
export async function pruneTable<S, T extends RetainedTable<S>>(db: Database<S>, request: PruneRequest<T, S>): Promise<PruneResult> {
  const table = quote(request.table);
  const chunk = request.chunkRows ?? DEFAULT_CHUNK_ROWS;
  const stopped = request.stopped ?? (() => false);
  const inChunks = async (where: string, bound: number): Promise<number> => {
    const statement = db.prepare(`delete from ${table} where "id" in (select "id" from ${table} where ${where} limit ?)`);
    let deleted = 0;
    while (!stopped()) {
      const n = statement.run(bound, chunk).changes;
      deleted += n;
      if (n < chunk) break;
      await nextTurn();
    }
    return deleted;
  };
  const expired = await inChunks(`${quote(request.timeColumn)} < ?`, request.cutoff);
  const top = (db.prepare(`select max("id") as top from ${table}`).get() as { top: number | null }).top;
  const overCap = top === null || stopped() ? 0 : await inChunks(`"id" <= ?`, top - request.maxRows);
  return { expired, overCap };
}

export interface RetentionJob {
  /** Stop: no new run starts, and a run under way ends after its current chunk. */
  stop(): Promise<void>;
}

/**
 * Run `job` now (or after `firstAfterMs`) and then `everyMs` after each run ends, until stopped: the shape of every
 * background pruning. `job` gets a flag to check between chunks; it catches and logs its own errors.
 */
export function repeatInBackground(job: (stopped: () => boolean) => Promise<void>, everyMs: number, firstAfterMs = 0): RetentionJob {
  let stopping = false;
  let running: Promise<void> | undefined;
  let timer: NodeJS.Timeout | undefined;
  const tick = () => {
    running = job(() => stopping).finally(() => {
      running = undefined;
      if (!stopping) timer = setTimeout(tick, everyMs).unref();
    });
  };
  timer = setTimeout(tick, firstAfterMs).unref();
  return {
    async stop() {
      stopping = true;
      clearTimeout(timer);
      await running;
    },
  };
}

/**
 * Prune a table by `policy` now and then every `everyMs` (an hour by default) until stopped. A run that fails is
 * logged and the next one tries again; a run that deleted rows says how many.
 */
export function scheduleRetention<S, T extends RetainedTable<S>>(
  db: Database<S>,
  logger: Logger,
  policy: RetentionPolicy<T, S>,
  options: { everyMs?: number; now?: () => number; also?: () => Promise<void> } = {},
): RetentionJob {
  const now = options.now ?? Date.now;
  return repeatInBackground(async (stopped) => {
    try {
      const result = await pruneTable<S, T>(db, { ...policy, cutoff: now() - policy.maxAgeMs, stopped });
      await options.also?.();
      if (result.expired + result.overCap > 0) {
        logger.info(
          { event: 'retention', table: policy.table, expired: result.expired, over_cap: result.overCap },
          `pruned ${result.expired + result.overCap} rows from ${policy.table} (older than ${Math.round(policy.maxAgeMs / 86_400_000)} days, or beyond ${policy.maxRows} rows)`,
        );
      }
    } catch (err) {
      logger.warn({ event: 'retention-failed', table: policy.table, err: errorMessage(err) }, `pruning ${policy.table} failed; trying again later`);
    }
  }, options.everyMs ?? HOUR_MS);
}
