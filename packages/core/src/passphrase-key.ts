import { scrypt } from 'node:crypto';

/** scrypt parameters: N (a power of two), r (block size), p (parallelism). */
export interface ScryptParameters {
  n: number;
  r: number;
  p: number;
}

/**
 * The most memory a file that names its own scrypt parameters (a backup header, a config export) may make us spend:
 * scrypt needs 128 x N x r bytes, and otpgate itself writes N = 2^17, r = 8 (128 MiB).
 */
export const MAX_SCRYPT_MEMORY = 256 * 2 ** 20;

export function scryptMemory(k: ScryptParameters): number {
  return 128 * k.n * k.r;
}

/** A key from a passphrase (NFC, so the same words typed on another system give the same key), off the event loop. */
export function keyFromPassphrase(passphrase: string, salt: Buffer, length: number, k: ScryptParameters): Promise<Buffer> {
  // Node refuses more than 32 MiB unless told: allow what these parameters need, with room for p blocks
  const maxmem = scryptMemory(k) * k.p + 64 * 2 ** 20;
  return new Promise((resolve, reject) =>
    scrypt(passphrase.normalize('NFC'), salt, length, { N: k.n, r: k.r, p: k.p, maxmem }, (err, key) => (err ? reject(err) : resolve(key))),
  );
}
