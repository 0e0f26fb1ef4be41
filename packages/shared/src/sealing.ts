import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { OtpgateError } from './errors.js';

/**
 * Secrets at rest: AES-256-GCM under the node's own key. The context (what the value is, e.g. "token-secret") is
 * authenticated data, so a sealed value copied into another kind of field does not open.
 * Format: "v1." + base64url(iv[12] | ciphertext | tag[16]).
 */
export const SEAL_KEY_BYTES = 32;
const PREFIX = 'v1.';

export class SealError extends OtpgateError {
  constructor(message: string) {
    super('seal', message);
  }
}

export function seal(key: Buffer, plaintext: string | Buffer, context: string): string {
  const iv = randomBytes(12);
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
