import { randomBytes } from 'node:crypto';
import { Secret } from 'otpauth';
import { InvalidInputError } from '@otpgate/shared';

/**
 * Token secrets as people hand them over: base32 (authenticator apps, Azure CSV; spaces, dashes and padding
 * allowed, any case) or hex (hardware token sheets; "hex:" or "0x" forces it).
 */
export function parseSecret(text: string, minBits: number, field = 'secret'): Buffer {
  const compact = text.trim().replace(/[\s-]/g, '');
  let key: Buffer | undefined;
  if (/^(hex:|0x)/i.test(compact)) key = hexKey(compact.replace(/^(hex:|0x)/i, ''), field);
  else if (/^[0-9a-f]+$/i.test(compact) && /[0189]/.test(compact)) key = hexKey(compact, field);
  else if (/^[A-Z2-7]+=*$/i.test(compact)) key = fromBase32(compact.replace(/=+$/, '').toUpperCase());
  else throw new InvalidInputError('is neither base32 (A-Z, 2-7) nor hex (0-9, a-f; prefix "hex:" to be explicit)', field);
  const bits = key.length * 8;
  if (bits < minBits) {
    throw new InvalidInputError(
      `is ${bits} bits; at least ${minBits} are required (RFC 4226 asks for 128, 160 recommended) — issue the token a longer secret`,
      field,
    );
  }
  return key;
}

function hexKey(hex: string, field: string): Buffer {
  if (hex.length % 2 !== 0 || !/^[0-9a-f]*$/i.test(hex)) throw new InvalidInputError('hex secret must have an even number of 0-9a-f digits', field);
  return Buffer.from(hex, 'hex');
}

export function fromBase32(text: string): Buffer {
  return Buffer.from(Secret.fromBase32(text).bytes);
}

export function toBase32(key: Buffer): string {
  return new Secret({ buffer: new Uint8Array(key).buffer }).base32;
}

/** A new random secret: 160 bits for SHA-1 (RFC 4226's recommendation), the hash size for SHA-256/512. */
export function generateSecret(algorithm: 'SHA1' | 'SHA256' | 'SHA512'): Buffer {
  return randomBytes(algorithm === 'SHA512' ? 64 : algorithm === 'SHA256' ? 32 : 20);
}
