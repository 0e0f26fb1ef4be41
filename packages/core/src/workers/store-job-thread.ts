/**
 * A long write to the configuration database, run in a thread of its own with its own connection: an import of
 * 100,000 users or a replica's snapshot of a million holds the write transaction for seconds to minutes, and the main
 * thread (metrics, health, the replication API, SIGTERM) must keep going meanwhile. Stopping the thread mid-way rolls
 * the transaction back: nothing is half-written.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { OtpgateError } from '@otpgate/shared';
import { createLogger } from '../logger.js';
import { Store } from '../store/store.js';
import { createServices } from '../services/index.js';
import { loadDictionary } from '../radius/dictionary.js';
import { applySnapshotFile } from '../store/replication.js';
import { ThreadLogStream } from './thread-log-stream.js';
import type { StoreJob, StoreJobAnswer } from './store-job.js';

const port = parentPort!;
const job = workerData as StoreJob;
const logStream = new ThreadLogStream(port);
const logger = createLogger(job.logLevel, job.node, logStream);
const answer = (a: StoreJobAnswer) => {
  logStream.flush();
  port.postMessage(a);
};

let store: Store | undefined;
try {
  store = await Store.open(job.dataDir);
  switch (job.kind) {
    case 'import-commit': {
      const services = createServices({ store, dictionary: loadDictionary(job.dictionaries), logger });
      // a Buffer crosses into a thread as a plain Uint8Array
      const input = job.input.format === 'pskc' && job.input.options?.psk ? { ...job.input, options: { ...job.input.options, psk: Buffer.from(job.input.options.psk) } } : job.input;
      const result = services.imports.commit(input, job.actor, { expectDigest: job.expectDigest, skipErrors: job.skipErrors });
      answer({ ok: true, result });
      break;
    }
    case 'snapshot-apply':
      answer({ ok: true, result: applySnapshotFile(store, job.path, job.clusterId) });
      break;
  }
} catch (err) {
  const e = err as Error & { code?: unknown };
  const otpgate = err instanceof OtpgateError;
  const code = otpgate ? err.code : typeof e.code === 'string' ? e.code : 'internal';
  answer({ ok: false, error: { name: e.name, code, message: e.message, otpgate } });
} finally {
  store?.close();
}
