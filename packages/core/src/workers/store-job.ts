/**
 * Run a long configuration write (store-job-thread.ts) in a thread of its own and wait for it. The thread's log lines
 * go where the node's go; its errors come back as the same error classes the callers expect.
 */
import { Worker } from 'node:worker_threads';
import { ConflictError, InvalidInputError, NotFoundError, OtpgateError, ReadOnlyReplicaError, type NodeConfig } from '@otpgate/shared';
import type { ImportResult } from '../imports/types.js';
import type { ImportInput } from '../imports/import-service.js';
import type { Actor } from '../services/context.js';
import { nodeName } from '../node-name.js';
import type { FromThread } from './messages.js';

interface JobBase {
  dataDir: string;
  dictionaries: string[];
  node: string;
  logLevel: NodeConfig['log']['level'];
}

export type StoreJob = JobBase & { kind: 'import-commit'; input: ImportInput; actor: Actor; expectDigest: string; skipErrors: boolean };

export type StoreJobAnswer = { ok: true; result: ImportResult } | { ok: false; error: { name: string; code: string; message: string } };

/** An error from the thread, as its class where the caller tells them apart. */
function revive(e: { name: string; code: string; message: string }): Error {
  if (e.code === 'conflict') return new ConflictError(e.message);
  if (e.code === 'not-found') return Object.assign(new NotFoundError('', ''), { message: e.message });
  if (e.code === 'invalid-input') return new InvalidInputError(e.message);
  if (e.code === 'read-only-replica') return new ReadOnlyReplicaError(/\((.*)\)/.exec(e.message)?.[1] ?? 'the master');
  if (e.code === 'internal') return new Error(e.message);
  return new OtpgateError(e.code, e.message);
}

/** The store jobs running now: a stopping node ends them (their transaction rolls back), whatever they are doing. */
const running = new Set<Worker>();

/** End every store job now: nothing they were writing is kept. */
export async function stopStoreJobs(): Promise<void> {
  await Promise.all([...running].map((w) => w.terminate()));
}

/** Commit an import (as ImportService.commit with the input and the preview's digest) in a thread of its own. */
export function commitImportInThread(
  config: NodeConfig,
  job: Pick<StoreJob, 'input' | 'actor' | 'expectDigest' | 'skipErrors'>,
  forwardLog: (line: string) => void,
): Promise<ImportResult> {
  const data: StoreJob = {
    kind: 'import-commit',
    dataDir: config.node.data_dir,
    dictionaries: config.radius.dictionaries,
    node: nodeName(config),
    logLevel: config.log.level,
    ...job,
  };
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./store-job-thread.js', import.meta.url), { workerData: data });
    running.add(worker);
    let settled = false;
    worker.on('message', (message: FromThread | StoreJobAnswer) => {
      if ('type' in message) {
        if (message.type === 'log') for (const line of message.lines) forwardLog(line);
        return;
      }
      settled = true;
      if (message.ok) resolve(message.result);
      else reject(revive(message.error));
    });
    worker.on('error', (err) => {
      settled = true;
      reject(err);
    });
    worker.on('exit', (code) => {
      running.delete(worker);
      if (!settled) reject(new OtpgateError('store-job', `the import stopped before it finished (code ${code}); nothing was written`));
    });
  });
}
