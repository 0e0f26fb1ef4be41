/**
 * Secrets at rest: AES-256-GCM under the node's own key. The context (what the value is, e.g. "token-secret") is
 * authenticated data, so a sealed value copied into another kind of field does not open.
 * Format: "v1." + base64url(iv[12] | ciphertext | tag[16]).
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { OtpgateError } from './errors.js';

export const SEAL_KEY_BYTES = 32;
const PREFIX = 'v1.';

export class SealError extends OtpgateError {
  constructor(message: string) {
    super('seal', message);
  }
}

/**
 * Random IVs are taken from a pool filled 1024 at a time: a call for 12 random bytes costs about as much as the
 * encryption itself, and a replica applying a snapshot seals 100,000s of secrets (in its profile, randomBytes took a
 * fifth of the apply). Every IV is still 12 fresh random bytes, used once: a used-up pool is replaced, never
 * refilled in place.
 */
const IV_BYTES = 12;
const IV_POOL_BYTES = IV_BYTES * 1024;
let ivPool = Buffer.alloc(0);
let ivOffset = 0;

function nextIv(): Buffer {
  if (ivOffset + IV_BYTES > ivPool.length) {
    ivPool = randomBytes(IV_POOL_BYTES);
    ivOffset = 0;
  }
  const iv = ivPool.subarray(ivOffset, ivOffset + IV_BYTES);
  ivOffset += IV_BYTES;
  return iv;
}

export function seal(key: Buffer, plaintext: string | Buffer, context: string): string {
  const iv = nextIv();
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(context));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return PREFIX + Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64url');
}

export function unseal(key: Buffer, sealed: string, context: string): Buffer {
  if (!sealed.startsWith(PREFIX)) throw new SealError(`not a sealed value (expected "${PREFIX}…")`);
  const raw = Buffer.from(sealed.slice(PREFIX.length), 'base64url');
  if (raw.length < 12 + 16) throw new SealError('sealed value is truncated');
  const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12));
  decipher.setAAD(Buffer.from(context));
  decipher.setAuthTag(raw.subarray(raw.length - 16));
  try {
    return Buffer.concat([decipher.update(raw.subarray(12, raw.length - 16)), decipher.final()]);
  } catch {
    throw new SealError(`cannot decrypt a ${context}: the key file does not match this database, or the value is damaged`);
  }
}
