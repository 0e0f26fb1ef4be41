import { fromBase32 } from '../otp/secret.js';

/** A secret from an import file, or why it cannot be used. Messages never repeat the secret. */
export type SecretCheck = { ok: true; key: Buffer } | { ok: false; reason: string };

/** Strict base32 (RFC 4648; any case, spaces and "=" padding allowed), as Azure's OATH CSV carries secrets. */
export function checkBase32Secret(text: string, minBits: number): SecretCheck {
  const compact = text.replace(/[\s=]/g, '').toUpperCase();
  if (compact === '') return { ok: false, reason: 'the secret key is empty' };
  const bad = /[^A-Z2-7]/.exec(compact);
  if (bad) return { ok: false, reason: `the secret key is not base32: "${bad[0]}" at position ${bad.index + 1} is not one of A-Z, 2-7` };
  // 5 bits a character; leftover bits below a byte are padding, and more than 7 of them mean a truncated key
  if ((compact.length * 5) % 8 > 4) return { ok: false, reason: `the secret key is not base32: ${compact.length} characters cannot be whole bytes (truncated?)` };
  return checkBits(fromBase32(compact), minBits);
}

export function checkBits(key: Buffer, minBits: number): SecretCheck {
  const bits = key.length * 8;
  if (bits < minBits) {
    return { ok: false, reason: `the secret is ${bits} bits; at least ${minBits} are required (settings otp.min_secret_bits)` };
  }
  return { ok: true, key };
}
