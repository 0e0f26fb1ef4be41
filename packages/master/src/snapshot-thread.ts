import { parentPort, workerData } from 'node:worker_threads';
import { Store } from '@otpgate/core';
import { feedDigest } from '@otpgate/shared';
import { buildSnapshot } from './snapshot.js';

/** What the replication server asks of this thread, and what it answers. */
export interface SnapshotJob {
  dataDir: string;
  clusterId: string;
}

export interface SnapshotResult {
  body: Uint8Array;
  /** The body's SHA-256: each request's signature binds it to that request's nonce (feed.ts). */
  digest: string;
  seq: number;
  users: number;
  buildMs: number;
  encodeMs: number;
}

// Runs in a worker thread: reading, unsealing and serialising 100,000 users takes seconds that the master's event
// loop (its RADIUS answers) must not wait for. SQLite in WAL mode gives this connection a consistent view of its own.
const job = workerData as SnapshotJob;
const store = await Store.openReadOnly(job.dataDir);
try {
  const started = performance.now();
  const snapshot = buildSnapshot(store, job.clusterId);
  const built = performance.now();
  // TextEncoder gives an ArrayBuffer this thread owns outright, so it can be transferred rather than copied. A Buffer's
  // `.buffer` may be Node's shared allocation pool, which Node 24+ refuses to transfer (DataCloneError).
  const body = new TextEncoder().encode(JSON.stringify(snapshot));
  const result: SnapshotResult = {
    body,
    digest: feedDigest(body),
    seq: snapshot.head.seq,
    users: snapshot.records.user?.length ?? 0,
    buildMs: Math.round(built - started),
    encodeMs: Math.round(performance.now() - built),
  };
  parentPort!.postMessage(result, [body.buffer]);
} finally {
  store.close();
}
