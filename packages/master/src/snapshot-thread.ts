import { parentPort, workerData } from 'node:worker_threads';
import { importJWK, type JWK } from 'jose';
import { Store } from '@otpgate/core';
import { signFeed } from '@otpgate/shared';
import { buildSnapshot } from './snapshot.js';

/** What the replication server asks of this thread, and what it answers. */
export interface SnapshotJob {
  dataDir: string;
  clusterId: string;
  signingJwk: JWK;
}

export interface SnapshotResult {
  body: Uint8Array;
  signature: string;
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
  const key = await importJWK(job.signingJwk, 'EdDSA');
  if (key instanceof Uint8Array) throw new Error('the feed signing key is not an Ed25519 key');
  const signature = await signFeed(body, key, job.clusterId);
  const result: SnapshotResult = {
    body,
    signature,
    seq: snapshot.head.seq,
    users: snapshot.records.user?.length ?? 0,
    buildMs: Math.round(built - started),
    encodeMs: Math.round(performance.now() - built),
  };
  parentPort!.postMessage(result, [body.buffer]);
} finally {
  store.close();
}
