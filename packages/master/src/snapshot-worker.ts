import { Worker } from 'node:worker_threads';
import type { SnapshotJob, SnapshotResult } from './snapshot-thread.js';

/** Build, serialise and hash a snapshot in a worker thread; the serving thread only signs the hash and sends the bytes. */
export function snapshotInWorker(job: SnapshotJob): Promise<SnapshotResult> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./snapshot-thread.js', import.meta.url), { workerData: job });
    worker.once('message', (result: SnapshotResult) => resolve(result));
    worker.once('error', reject);
    worker.once('exit', (code) => {
      if (code !== 0) reject(new Error(`the snapshot worker stopped with code ${code}`));
    });
  });
}
