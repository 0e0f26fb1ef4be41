import { createHash } from 'node:crypto';
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

export interface ArchiveFile {
  name: string;
  content: Buffer;
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** [u32 manifest length][manifest JSON][each file's bytes, in manifest order] */
export function packArchive(manifest: Omit<BackupManifest, 'files'>, files: readonly ArchiveFile[]): Buffer {
  const full: BackupManifest = { ...manifest, files: files.map((f) => ({ name: f.name, size: f.content.length, sha256: sha256(f.content) })) };
  const json = Buffer.from(JSON.stringify(full));
  const length = Buffer.alloc(4);
  length.writeUInt32BE(json.length);
  return Buffer.concat([length, json, ...files.map((f) => f.content)]);
}

/** Unpack and check every file against its size and digest; only names in `allowed` are accepted. */
export function unpackArchive(payload: Buffer, allowed: (name: string) => boolean): { manifest: BackupManifest; files: Map<string, Buffer> } {
  const damaged = (why: string) => new BackupFileError('damaged', `the backup content is not usable: ${why}`);
  if (payload.length < 4) throw damaged('too short');
  const length = payload.readUInt32BE(0);
  if (4 + length > payload.length) throw damaged('manifest cut short');
  let manifest: BackupManifest;
  try {
    manifest = JSON.parse(payload.subarray(4, 4 + length).toString('utf8')) as BackupManifest;
  } catch {
    throw damaged('the manifest is not JSON');
  }
  if (manifest.format !== 'otpgate-backup-content' || manifest.version !== 1 || !Array.isArray(manifest.files)) {
    throw damaged('unknown content format');
  }
  const files = new Map<string, Buffer>();
  let offset = 4 + length;
  for (const f of manifest.files) {
    if (typeof f.name !== 'string' || !allowed(f.name)) throw damaged(`unexpected file "${String(f.name)}"`);
    if (!Number.isInteger(f.size) || f.size < 0 || offset + f.size > payload.length) throw damaged(`${f.name} cut short`);
    const content = payload.subarray(offset, offset + f.size);
    if (sha256(content) !== f.sha256) throw damaged(`${f.name} does not match its digest`);
    files.set(f.name, content);
    offset += f.size;
  }
  if (offset !== payload.length) throw damaged('bytes after the last file');
  return { manifest, files };
}
