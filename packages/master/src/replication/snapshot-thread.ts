/**
 * The snapshot thread (started by snapshot-job.ts): reading, unsealing and writing a million users takes tens of
 * seconds that the master's event loop must not wait for, and the records go to the file a page at a time, never all
 * in memory. SQLite in WAL mode gives this connection a consistent view of its own.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Store, writeSnapshotFile, type WrittenSnapshot } from '@otpgate/core';

/** What the replication server asks of this thread, and what it answers. */
export interface SnapshotJob {
  dataDir: string;
  clusterId: string;
  /** The new file to write (snapshot-file.ts). */
  path: string;
}

export interface SnapshotResult extends WrittenSnapshot {
  users: number;
  buildMs: number;
}

const job = workerData as SnapshotJob;
const store = await Store.openReadOnly(job.dataDir);
try {
  const started = performance.now();
  const written = writeSnapshotFile(store, job.clusterId, job.path);
  const result: SnapshotResult = { ...written, users: written.counts.user ?? 0, buildMs: Math.round(performance.now() - started) };
  parentPort!.postMessage(result);
} finally {
  store.close();
}
