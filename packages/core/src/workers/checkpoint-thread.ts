/**
 * The node's WAL checkpoints, in a thread of their own. A commit that finds the write-ahead log past its threshold
 * copies the log into the database file itself, inside the commit: after a bulk change (an import committed by
 * another process while a RADIUS thread held a read snapshot, a replica's snapshot) that first small commit on a
 * serving thread copied hundreds of MB, and the thread answered nothing for seconds (the master's replication API:
 * the replicas' claims timed out). Serving connections therefore never checkpoint (Store.open with `serving`); this
 * thread runs a PASSIVE checkpoint of both files every CHECKPOINT_INTERVAL_MS, which waits for no lock and holds none
 * that a reader or writer waits for.
 */
import { parentPort, workerData } from 'node:worker_threads';
import BetterSqlite3 from 'better-sqlite3';
import { errorMessage } from '@otpgate/shared';

export interface CheckpointThreadData {
  files: string[];
  intervalMs: number;
}

/** What a round reports when a file could not be checkpointed: the main thread logs it (at most once a minute). */
export interface CheckpointFailure {
  file: string;
  error: string;
}

const { files, intervalMs } = workerData as CheckpointThreadData;
const connections = files.map((file) => {
  const sqlite = new BetterSqlite3(file, { fileMustExist: true });
  // never wait: a file busy now is checkpointed on the next round
  sqlite.pragma('busy_timeout = 0');
  return { file, sqlite };
});

const timer = setInterval(() => {
  for (const { file, sqlite } of connections) {
    try {
      sqlite.pragma('wal_checkpoint(PASSIVE)');
    } catch (err) {
      parentPort?.postMessage({ file, error: errorMessage(err) } satisfies CheckpointFailure);
    }
  }
}, intervalMs);

parentPort?.on('message', (message: unknown) => {
  if (message !== 'stop') return;
  clearInterval(timer);
  for (const { sqlite } of connections) sqlite.close();
  parentPort?.close();
});
