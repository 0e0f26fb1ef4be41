/**
 * The encrypted backup file: a readable two-line header, then AES-256-GCM ciphertext and tag. Written and read as a
 * stream (a node with a million users has a database of gigabytes).
 *   otpgate-backup 1
 *   {"kdf":"scrypt","n":131072,"r":8,"p":1,"salt":"…","cipher":"aes-256-gcm","iv":"…","check":"…",…}
 *   <ciphertext><16-byte tag>
 * The key comes from the passphrase with scrypt (memory-hard: 128 MiB per guess); the header is authenticated data,
 * so its fields cannot be changed unnoticed. `check` tells a wrong passphrase from a damaged file.
 */
import { createCipheriv, createDecipheriv, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { OtpgateError } from '@otpgate/shared';
import { MAX_SCRYPT_MEMORY, keyFromPassphrase, scryptMemory, type ScryptParameters } from '../passphrase-key.js';

export const BACKUP_MAGIC = 'otpgate-backup';
export const BACKUP_FORMAT_VERSION = 1;
export const MIN_PASSPHRASE_LENGTH = 12;

/** N = 2^17, r = 8: 128 MiB and about half a second per try on a server core. */
const KDF = { n: 2 ** 17, r: 8, p: 1 } as const;
/** A file may ask for more (a later version), but not enough to exhaust memory when opened. */
const KDF_LIMITS = { n: 2 ** 20, r: 16, p: 4 } as const;

export type BackupErrorReason = 'not-a-backup' | 'unsupported-version' | 'wrong-passphrase' | 'damaged' | 'weak-passphrase';

export class BackupFileError extends OtpgateError {
  constructor(
    readonly reason: BackupErrorReason,
    message: string,
  ) {
    super(`backup-${reason}`, message);
  }
}

/** What the header says, readable without the passphrase. */
export interface BackupHeader {
  kdf: 'scrypt';
  n: number;
  r: number;
  p: number;
  salt: string;
  cipher: 'aes-256-gcm';
  iv: string;
  check: string;
  created_at: string;
  /** Whether the node key (and cluster private keys) are inside. */
  includes_keys: boolean;
}

function deriveKeys(passphrase: string, salt: Buffer, params: ScryptParameters): Promise<{ key: Buffer; check: Buffer }> {
  return keyFromPassphrase(passphrase, salt, 64, params).then((out) => ({
    key: out.subarray(0, 32),
    check: createHmac('sha256', out.subarray(32)).update('otpgate-backup passphrase check').digest().subarray(0, 16),
  }));
}

export function checkPassphraseStrength(passphrase: string): void {
  if ([...passphrase].length < MIN_PASSPHRASE_LENGTH) {
    throw new BackupFileError('weak-passphrase', `the passphrase must have at least ${MIN_PASSPHRASE_LENGTH} characters (a few random words will do)`);
  }
}

/**
 * Encrypt `content` under `passphrase`, as it comes: the header, then the ciphertext a chunk at a time, then the tag
 * (what gets written to the backup file; a database of gigabytes is never in memory).
 */
export async function* sealBackup(
  content: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  passphrase: string,
  info: { includesKeys: boolean; createdAt?: Date },
): AsyncGenerator<Buffer> {
  checkPassphraseStrength(passphrase);
  const salt = randomBytes(16);
  const iv = randomBytes(12);
  const { key, check } = await deriveKeys(passphrase, salt, KDF);
  const header: BackupHeader = {
    kdf: 'scrypt',
    ...KDF,
    salt: salt.toString('base64'),
    cipher: 'aes-256-gcm',
    iv: iv.toString('base64'),
    check: check.toString('base64'),
    created_at: (info.createdAt ?? new Date()).toISOString(),
    includes_keys: info.includesKeys,
  };
  const head = Buffer.from(`${BACKUP_MAGIC} ${BACKUP_FORMAT_VERSION}\n${JSON.stringify(header)}\n`);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(head);
  yield head;
  for await (const chunk of content) yield cipher.update(chunk);
  yield Buffer.concat([cipher.final(), cipher.getAuthTag()]);
}

/** The longest header a reader looks for (the two lines before the ciphertext). */
const HEADER_LIMIT = 64 * 1024;

/** The header of a backup file, checked for shape and limits (nothing decrypted yet); `file`: its first bytes at least. */
export function readBackupHeader(file: Buffer): { header: BackupHeader; headerBytes: Buffer } {
  const firstNl = file.indexOf(0x0a);
  const magicLine = firstNl < 0 ? '' : file.subarray(0, firstNl).toString('utf8');
  const magic = /^otpgate-backup (\d+)$/.exec(magicLine);
  if (!magic) throw new BackupFileError('not-a-backup', 'this is not an otpgate backup file (it does not start with "otpgate-backup")');
  if (Number(magic[1]) !== BACKUP_FORMAT_VERSION) {
    throw new BackupFileError('unsupported-version', `backup format ${magic[1]} is not known to this otpgate (it reads format ${BACKUP_FORMAT_VERSION}); use a newer otpgate`);
  }
  const secondNl = file.indexOf(0x0a, firstNl + 1);
  if (secondNl < 0) throw new BackupFileError('damaged', 'the backup file is truncated (its header is incomplete)');
  let header: BackupHeader;
  try {
    header = JSON.parse(file.subarray(firstNl + 1, secondNl).toString('utf8')) as BackupHeader;
  } catch {
    throw new BackupFileError('damaged', 'the backup file header is not valid JSON');
  }
  const positive = (v: unknown, max: number) => typeof v === 'number' && Number.isInteger(v) && v > 0 && v <= max;
  if (
    header.kdf !== 'scrypt' ||
    header.cipher !== 'aes-256-gcm' ||
    !positive(header.n, KDF_LIMITS.n) ||
    (header.n & (header.n - 1)) !== 0 ||
    !positive(header.r, KDF_LIMITS.r) ||
    !positive(header.p, KDF_LIMITS.p) ||
    scryptMemory(header) > MAX_SCRYPT_MEMORY ||
    typeof header.salt !== 'string' ||
    typeof header.iv !== 'string' ||
    typeof header.check !== 'string'
  ) {
    throw new BackupFileError('unsupported-version', 'the backup file asks for an encryption this otpgate does not use (or its header was altered)');
  }
  return { header, headerBytes: file.subarray(0, secondNl + 1) };
}

/** The first bytes of a file, enough for its header. */
export async function readBackupStart(path: string): Promise<Buffer> {
  const file = await open(path, 'r');
  try {
    const buffer = Buffer.alloc(HEADER_LIMIT);
    const { bytesRead } = await file.read(buffer, 0, HEADER_LIMIT, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await file.close();
  }
}

/**
 * Open a backup file: the header read and the passphrase checked first ("wrong passphrase" is told apart from a
 * damaged file), then `content` decrypts it a chunk at a time. The authentication tag is only checked once the last
 * chunk has come: `content` throws "damaged" then if anything was altered, so whatever was made of the chunks must
 * not be used before the iteration has ended without an error.
 */
export async function openBackup(path: string, passphrase: string): Promise<{ header: BackupHeader; content: AsyncGenerator<Buffer> }> {
  const { header, headerBytes } = readBackupHeader(await readBackupStart(path));
  const size = (await stat(path)).size;
  if (size - headerBytes.length < 16) throw new BackupFileError('damaged', 'the backup file is truncated (no encrypted content)');
  const { key, check } = await deriveKeys(passphrase, Buffer.from(header.salt, 'base64'), header);
  const expected = Buffer.from(header.check, 'base64');
  if (expected.length !== check.length || !timingSafeEqual(expected, check)) {
    throw new BackupFileError('wrong-passphrase', 'wrong passphrase for this backup file');
  }
  const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(header.iv, 'base64'));
  decipher.setAAD(headerBytes);
  const file = await open(path, 'r');
  try {
    const tag = Buffer.alloc(16);
    await file.read(tag, 0, 16, size - 16);
    decipher.setAuthTag(tag);
  } finally {
    await file.close();
  }
  async function* content(): AsyncGenerator<Buffer> {
    // the ciphertext: after the header, before the tag (end is inclusive)
    if (size - 16 > headerBytes.length) {
      for await (const chunk of createReadStream(path, { start: headerBytes.length, end: size - 17, highWaterMark: 1024 * 1024 })) {
        yield decipher.update(chunk as Buffer);
      }
    }
    try {
      yield decipher.final();
    } catch {
      throw new BackupFileError('damaged', 'the passphrase is right but the backup file is damaged or was altered (authentication failed)');
    }
  }
  return { header, content: content() };
}
