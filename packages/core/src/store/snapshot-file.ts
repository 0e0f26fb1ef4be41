/**
 * Snapshot files (the format: shared/snapshot-format.ts). The master writes one, record by record, hashing as it
 * writes; the replica receives one into a file and applies it record by record (replication.ts). Either way a million
 * users never sit in memory at once. The files live in DATA_DIR/snapshots/ (0700; files 0600: they hold every secret
 * in clear, as the mutual-TLS feed carries them), named for their side, and are removed after use; a process that
 * starts removes what a crash left (removeSnapshotFiles).
 */
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readSync, readdirSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import {
  LineSplitter,
  SNAPSHOT_ENTITIES,
  SnapshotReader,
  snapshotEndLine,
  snapshotHeaderLine,
  snapshotRecordLine,
  type SnapshotCounts,
  type SnapshotHeader,
  type SnapshotRecord,
} from '@otpgate/shared';
import type { Store } from './store.js';

/** Bytes gathered before a write to the file (and read at a time). */
const CHUNK = 1024 * 1024;

export type SnapshotSide = 'outgoing' | 'incoming';

export function snapshotDir(dataDir: string): string {
  return join(dataDir, 'snapshots');
}

/** A new file name for a snapshot (the folder made if needed); nothing is created yet. */
export function newSnapshotPath(dataDir: string, side: SnapshotSide): string {
  const dir = snapshotDir(dataDir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return join(dir, `${side}-${Date.now()}-${randomBytes(6).toString('hex')}.ndjson`);
}

/** Remove this side's snapshot files: at start, what an earlier process left when it stopped mid-way. */
export function removeSnapshotFiles(dataDir: string, side: SnapshotSide): number {
  let names: string[];
  try {
    names = readdirSync(snapshotDir(dataDir));
  } catch {
    return 0;
  }
  const stale = names.filter((n) => n.startsWith(`${side}-`) && n.endsWith('.ndjson'));
  for (const name of stale) rmSync(join(snapshotDir(dataDir), name), { force: true });
  return stale.length;
}

export interface WrittenSnapshot {
  path: string;
  /** The file's SHA-256 (hex): each request's signature binds it to that request's nonce (feed.ts). */
  digest: string;
  bytes: number;
  head: { seq: number; hash: string };
  counts: SnapshotCounts;
}

/** Appends text to a file a chunk at a time, hashing what it writes. */
class HashingWriter {
  private readonly hash = createHash('sha256');
  private parts: string[] = [];
  private pending = 0;
  bytes = 0;

  constructor(private readonly fd: number) {}

  write(text: string): void {
    this.parts.push(text);
    this.pending += text.length;
    if (this.pending >= CHUNK) this.flush();
  }

  flush(): void {
    if (this.parts.length === 0) return;
    const chunk = Buffer.from(this.parts.join(''), 'utf8');
    this.parts = [];
    this.pending = 0;
    this.hash.update(chunk);
    for (let off = 0; off < chunk.length; ) off += writeSync(this.fd, chunk, off);
    this.bytes += chunk.length;
  }

  digest(): string {
    this.flush();
    return this.hash.digest('hex');
  }
}

/**
 * Write everything a replica needs into a new file at `path` (mode 0600), read in one read transaction of the
 * configuration database so it matches `head` exactly, a page of records at a time. Replay steps come from the state
 * database as they are then (a step only moves forward: one a little newer than the head does no harm). A failure
 * removes the file.
 */
export function writeSnapshotFile(store: Store, clusterId: string, path: string): WrittenSnapshot {
  const fd = openSync(path, 'wx', 0o600);
  try {
    const out = new HashingWriter(fd);
    const result = store.db.sqlite
      .transaction(() => {
        const head = store.head();
        out.write(snapshotHeaderLine(clusterId, head));
        const counts: SnapshotCounts = {};
        for (const entity of SNAPSHOT_ENTITIES) {
          let n = 0;
          for (const record of store.scan(entity)) {
            out.write(snapshotRecordLine(entity, record));
            n++;
          }
          if (n > 0) counts[entity] = n;
        }
        out.write(snapshotEndLine(counts));
        return { head, counts };
      })
      .deferred();
    const digest = out.digest();
    return { path, digest, bytes: out.bytes, ...result };
  } catch (err) {
    rmSync(path, { force: true });
    throw err;
  } finally {
    closeSync(fd);
  }
}

/** The lines of a file, read a chunk at a time, none over SNAPSHOT_MAX_LINE; refuses a last line without its newline. */
function* fileLines(path: string): Generator<string> {
  const fd = openSync(path, 'r');
  try {
    const splitter = new LineSplitter();
    const buffer = Buffer.allocUnsafe(CHUNK);
    for (;;) {
      const n = readSync(fd, buffer, 0, CHUNK, null);
      if (n === 0) break;
      yield* splitter.push(buffer.subarray(0, n));
    }
    splitter.end();
  } finally {
    closeSync(fd);
  }
}

/** A snapshot file's header line (read alone, before anything is applied), checked for this cluster and format. */
export function readSnapshotHeader(path: string, clusterId: string): SnapshotHeader {
  const reader = new SnapshotReader(clusterId);
  for (const line of fileLines(path)) {
    const item = reader.read(line);
    if ('header' in item) return item.header;
  }
  return reader.finish();
}

/**
 * A snapshot file's records, in order, one at a time (its header checked, readSnapshotHeader gives it). Throws
 * FeedError ('malformed', 'wrong-cluster', 'incompatible') at the first line that is wrong, or at the end when it was
 * cut short: a caller applying the records in one transaction rolls it back.
 */
export function* readSnapshotFile(path: string, clusterId: string): Generator<SnapshotRecord> {
  const reader = new SnapshotReader(clusterId);
  for (const line of fileLines(path)) {
    const item = reader.read(line);
    if ('record' in item) yield item.record;
  }
  reader.finish();
}
