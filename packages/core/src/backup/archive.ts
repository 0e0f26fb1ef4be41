import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { BackupFileError } from './backup-file.js';

/** The decrypted content of a backup: a manifest and the files it lists. */
export interface BackupManifest {
  format: 'otpgate-backup-content';
  version: 1;
  created_at: string;
  node: string;
  role: 'master' | 'replica';
  otpgate_version: string;
  head_seq: number;
  /** Identifies the node key the database's secrets are sealed under (not the key itself). */
  key_id: string;
  includes_keys: boolean;
  files: Array<{ name: string; size: number; sha256: string }>;
}

/** A file for the archive: small ones given as bytes, the databases as a path read a chunk at a time. */
export type ArchiveFile = { name: string; content: Buffer } | { name: string; path: string };

/** The manifest is small (a dozen names and digests); more than this is not a backup's. */
const MANIFEST_LIMIT = 1024 * 1024;
const CHUNK = 1024 * 1024;

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

async function describe(file: ArchiveFile): Promise<{ name: string; size: number; sha256: string }> {
  if ('content' in file) return { name: file.name, size: file.content.length, sha256: sha256(file.content) };
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(file.path, { highWaterMark: CHUNK })) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { name: file.name, size, sha256: hash.digest('hex') };
}

/**
 * [u32 manifest length][manifest JSON][each file's bytes, in manifest order], as a stream of chunks: the files given
 * by path are read twice (once for their digests, which the manifest carries first, then for their bytes), never
 * held whole. They must not change meanwhile (the online copies a backup makes do not).
 */
export async function packArchive(manifest: Omit<BackupManifest, 'files'>, files: readonly ArchiveFile[]): Promise<AsyncGenerator<Buffer>> {
  const described = await Promise.all(files.map(describe));
  const full: BackupManifest = { ...manifest, files: described };
  const json = Buffer.from(JSON.stringify(full));
  const length = Buffer.alloc(4);
  length.writeUInt32BE(json.length);
  async function* chunks(): AsyncGenerator<Buffer> {
    yield Buffer.concat([length, json]);
    for (const file of files) {
      if ('content' in file) yield file.content;
      else for await (const chunk of createReadStream(file.path, { highWaterMark: CHUNK })) yield chunk as Buffer;
    }
  }
  return chunks();
}

interface Slot {
  name: string;
  size: number;
  sha256: string;
  hash: ReturnType<typeof createHash>;
  received: number;
  /** Where a large file goes, or the bytes of a small one. */
  file?: FileHandle;
  parts: Buffer[];
}

/**
 * Unpack content as it comes, checking every file against its size and digest; only names in `allowed` are
 * accepted. A file for which `place` gives a path is written there (a new file, mode 0600), any other is kept in
 * memory (the key file, the cluster's certificates). Returns the manifest and the files kept in memory; on a failure
 * the files written so far are the caller's to remove (every path `place` gave).
 */
export async function unpackArchive(
  content: AsyncIterable<Buffer> | Iterable<Buffer>,
  allowed: (name: string) => boolean,
  place: (name: string) => string | undefined,
): Promise<{ manifest: BackupManifest; files: Map<string, Buffer> }> {
  const damaged = (why: string) => new BackupFileError('damaged', `the backup content is not usable: ${why}`);
  let head = Buffer.alloc(0);
  let manifest: BackupManifest | undefined;
  const slots: Slot[] = [];
  let current = 0;
  try {
    for await (let chunk of content) {
      if (!manifest) {
        head = Buffer.concat([head, chunk]);
        if (head.length < 4) continue;
        const length = head.readUInt32BE(0);
        if (length > MANIFEST_LIMIT) throw damaged('the manifest is too large');
        if (head.length < 4 + length) continue;
        manifest = parseManifest(head.subarray(4, 4 + length), damaged);
        for (const f of manifest.files) {
          if (typeof f.name !== 'string' || !allowed(f.name)) throw damaged(`unexpected file "${String(f.name)}"`);
          if (slots.some((s) => s.name === f.name)) throw damaged(`${f.name} is listed twice`);
          if (!Number.isInteger(f.size) || f.size < 0) throw damaged(`${f.name} has no valid size`);
          const path = place(f.name);
          const slot: Slot = { name: f.name, size: f.size, sha256: f.sha256, hash: createHash('sha256'), received: 0, parts: [] };
          slots.push(slot);
          if (path) slot.file = await open(path, 'wx', 0o600);
        }
        chunk = head.subarray(4 + length);
        head = Buffer.alloc(0);
      }
      while (chunk.length > 0) {
        const slot = slots[current];
        if (!slot) throw damaged('bytes after the last file');
        const part = chunk.subarray(0, slot.size - slot.received);
        slot.hash.update(part);
        slot.received += part.length;
        if (slot.file) for (let off = 0; off < part.length; ) off += (await slot.file.write(part, off)).bytesWritten;
        else slot.parts.push(Buffer.from(part));
        chunk = chunk.subarray(part.length);
        if (slot.received === slot.size) current++;
      }
      // a file of no bytes is complete without any
      while (slots[current]?.size === 0) current++;
    }
  } finally {
    for (const slot of slots) await slot.file?.close();
  }
  if (!manifest) throw damaged('manifest cut short');
  const files = new Map<string, Buffer>();
  for (const slot of slots) {
    if (slot.received !== slot.size) throw damaged(`${slot.name} cut short`);
    if (slot.hash.digest('hex') !== slot.sha256) throw damaged(`${slot.name} does not match its digest`);
    if (!slot.file) files.set(slot.name, Buffer.concat(slot.parts));
  }
  return { manifest, files };
}

function parseManifest(bytes: Buffer, damaged: (why: string) => BackupFileError): BackupManifest {
  let manifest: BackupManifest;
  try {
    manifest = JSON.parse(bytes.toString('utf8')) as BackupManifest;
  } catch {
    throw damaged('the manifest is not JSON');
  }
  if (manifest.format !== 'otpgate-backup-content' || manifest.version !== 1 || !Array.isArray(manifest.files)) {
    throw damaged('unknown content format');
  }
  return manifest;
}
