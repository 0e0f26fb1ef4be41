/**
 * Run a long configuration write (store-job-thread.ts) in a thread of its own and wait for it, or stop it: stopping
 * the thread mid-way rolls its transaction back (SQLite rolls back what a connection closed before committing, and the
 * thread's connections are closed as it ends). The thread's log lines go where the node's go; its errors come back as
 * the same error classes the callers expect.
 */
import { Worker } from 'node:worker_threads';
import {
  ConflictError,
  FeedError,
  InvalidInputError,
  NotFoundError,
  OtpgateError,
  isErrorCode,
  ReadOnlyReplicaError,
  type FeedFailure,
  type NodeConfig,
} from '@otpgate/shared';
import type { ImportResult } from '../imports/types.js';
import type { ImportInput } from '../imports/import-service.js';
import type { Actor } from '../services/context.js';
import { nodeName } from '../node-name.js';
import { ReplicationDataError, type AppliedSnapshot } from '../store/replication.js';
import type { FromThread } from './messages.js';

interface JobBase {
  dataDir: string;
  dictionaries: string[];
  node: string;
  logLevel: NodeConfig['log']['level'];
}

export type StoreJob = JobBase &
  (
    | { kind: 'import-commit'; input: ImportInput; actor: Actor; expectDigest: string; skipErrors: boolean }
    | { kind: 'snapshot-apply'; path: string; clusterId: string }
  );

/** A job's error as it crosses back: `code` an OtpgateError's, or the system's for any other (SQLITE_FULL, ENOSPC). */
export interface StoreJobError {
  name: string;
  code: string;
  message: string;
  otpgate: boolean;
}

export type StoreJobAnswer = { ok: true; result: unknown } | { ok: false; error: StoreJobError };

/** A job under way: its outcome, and a way to stop it (its transaction rolled back) that resolves once the thread is gone. */
export interface StoreJobRun<T> {
  result: Promise<T>;
  stop(): Promise<void>;
}

/** An error from the thread, as its class where the caller tells them apart. */
function revive(e: StoreJobError): Error {
  if (!e.otpgate) return Object.assign(new Error(e.message), e.code === 'internal' ? {} : { code: e.code });
  if (e.code === 'conflict') return new ConflictError(e.message);
  if (e.code === 'not-found') return Object.assign(new NotFoundError('', ''), { message: e.message });
  if (e.code === 'invalid-input') return new InvalidInputError(e.message);
  if (e.code === 'read-only-replica') return new ReadOnlyReplicaError(/\((.*)\)/.exec(e.message)?.[1] ?? 'the master');
  if (e.code === 'replication-data') return new ReplicationDataError(e.message);
  if (e.code.startsWith('feed-')) return new FeedError(e.code.slice('feed-'.length) as FeedFailure, e.message);
  // an otpgate error's code is one of ERROR_CODES by construction; anything else is the thread's own failure
  return new OtpgateError(isErrorCode(e.code) ? e.code : 'store-job', e.message);
}

/** The store jobs running now: a stopping node ends them (their transaction rolls back), whatever they are doing. */
const running = new Set<Worker>();

/** End every store job now: nothing they were writing is kept. */
export async function stopStoreJobs(): Promise<void> {
  await Promise.all([...running].map((w) => w.terminate()));
}

function jobBase(config: NodeConfig): JobBase {
  return { dataDir: config.node.data_dir, dictionaries: config.radius.dictionaries, node: nodeName(config), logLevel: config.log.level };
}

function startStoreJob<T>(job: StoreJob, forwardLog: (line: string) => void, what: string): StoreJobRun<T> {
  const worker = new Worker(new URL('./store-job-thread.js', import.meta.url), { workerData: job });
  running.add(worker);
  let exited: Promise<void> | undefined;
  const result = new Promise<T>((resolve, reject) => {
    let settled = false;
    worker.on('message', (message: FromThread | StoreJobAnswer) => {
      if ('type' in message) {
        if (message.type === 'log') forwardLog(message.text);
        return;
      }
      settled = true;
      if (message.ok) resolve(message.result as T);
      else reject(revive(message.error));
    });
    worker.on('error', (err: Error) => {
      settled = true;
      reject(err);
    });
    exited = new Promise((gone) =>
      worker.on('exit', (code) => {
        running.delete(worker);
        if (!settled) reject(new OtpgateError('store-job', `${what} stopped before it finished (code ${code}); nothing was written`));
        gone();
      }),
    );
  });
  return {
    result,
    stop: async () => {
      await worker.terminate();
      await exited;
    },
  };
}

/** Commit an import (as ImportService.commit with the input and the preview's digest) in a thread of its own. */
export function commitImportInThread(
  config: NodeConfig,
  job: { input: ImportInput; actor: Actor; expectDigest: string; skipErrors: boolean },
  forwardLog: (line: string) => void,
): Promise<ImportResult> {
  return startStoreJob<ImportResult>({ kind: 'import-commit', ...jobBase(config), ...job }, forwardLog, 'the import').result;
}

/**
 * Apply a received snapshot file (applySnapshotFile) in a thread of its own with its own connection, so this thread
 * (metrics, health, the feed, SIGTERM) keeps going for the minutes a million users take; `stop` rolls it back.
 */
export function applySnapshotInThread(config: NodeConfig, path: string, clusterId: string, forwardLog: (line: string) => void): StoreJobRun<AppliedSnapshot> {
  return startStoreJob<AppliedSnapshot>({ kind: 'snapshot-apply', ...jobBase(config), path, clusterId }, forwardLog, 'applying the snapshot');
}
