/**
 * The node's WAL checkpoints, in a thread of their own (store/wal-checkpoint.ts says why and how). A commit that
 * finds the write-ahead log past its threshold copies the log into the database file itself, inside the commit: after
 * a bulk change (an import committed by another process while a RADIUS thread held a read snapshot) that first small
 * commit on a serving thread copied hundreds of MB, and the thread answered nothing for seconds (on the master: the
 * replicas' claims timed out). Serving connections therefore never checkpoint (Store.open with `serving`), and no
 * checkpoint, or its wait for readers, runs on a thread that answers anyone.
 */
import { parentPort, workerData } from 'node:worker_threads';
import BetterSqlite3 from 'better-sqlite3';
import { errorMessage } from '@otpgate/shared';
import { checkpointWal } from '../store/wal-checkpoint.js';

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
      checkpointWal(sqlite);
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
