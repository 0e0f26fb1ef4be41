import { rmSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import type { SnapshotJob, SnapshotResult } from './snapshot-thread.js';

/**
 * Build a snapshot file, hashed as it is written, in a worker thread; the serving thread only signs the hash and sends
 * the file. `signal` ends the thread (the node is stopping: a million users take longer than its grace period).
 */
export function buildSnapshotInThread(job: SnapshotJob, signal: AbortSignal): Promise<SnapshotResult> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./snapshot-thread.js', import.meta.url), { workerData: job });
    const stop = () => void worker.terminate();
    signal.addEventListener('abort', stop, { once: true });
    const fail = (err: Error) => {
      // a thread that stopped mid-way may leave part of the file
      rmSync(job.path, { force: true });
      reject(err);
    };
    worker.once('message', (result: SnapshotResult) => resolve(result));
    worker.once('error', fail);
    worker.once('exit', (code) => {
      signal.removeEventListener('abort', stop);
      if (code !== 0) fail(new Error(signal.aborted ? 'the snapshot was not finished: the node is stopping' : `the snapshot thread stopped with code ${code}`));
    });
  });
}
