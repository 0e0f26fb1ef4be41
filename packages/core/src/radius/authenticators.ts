/**
 * The three RADIUS cryptographic operations: Message-Authenticator (RFC 3579 §3.2), User-Password hiding
 * (RFC 2865 §5.2) and the Response Authenticator (RFC 2865 §3). Written here rather than taken from the `radius`
 * package, which verifies a Message-Authenticator by re-encoding the whole packet and appends its own at the end
 * of a response (BlastRADIUS wants it first).
 */
import { createHash, createHmac, hash, timingSafeEqual } from 'node:crypto';
import { AUTHENTICATOR_LENGTH } from './constants.js';

const ZERO16 = Buffer.alloc(16);

/** HMAC-MD5 over the packet with the Message-Authenticator value taken as 16 zero bytes. */
export function verifyMessageAuthenticator(packet: Buffer, valueOffset: number, secret: Buffer): boolean {
  const hmac = createHmac('md5', secret);
  hmac.update(packet.subarray(0, valueOffset));
  hmac.update(ZERO16);
  hmac.update(packet.subarray(valueOffset + 16));
  return timingSafeEqual(hmac.digest(), packet.subarray(valueOffset, valueOffset + 16));
}

/**
 * Reveal a hidden User-Password; trailing NULs (padding) are stripped. MD5(secret + previous block) with the one-shot
 * `hash` over one buffer: a Hash object per block cost twice as much (this runs for every request).
 */
export function decodeUserPassword(hidden: Buffer, requestAuthenticator: Buffer, secret: Buffer): Buffer {
  const out = Buffer.allocUnsafe(hidden.length);
  const input = Buffer.allocUnsafe(secret.length + 16);
  secret.copy(input);
  requestAuthenticator.copy(input, secret.length, 0, 16);
  for (let i = 0; i < hidden.length; i += 16) {
    const b = hash('md5', input, 'buffer');
    for (let j = 0; j < 16; j++) out[i + j] = hidden[i + j]! ^ b[j]!;
    hidden.copy(input, secret.length, i, i + 16);
  }
  let end = out.length;
  while (end > 0 && out[end - 1] === 0) end--;
  return out.subarray(0, end);
}

/** Hide a User-Password (used by otpgate's own test client and tools). */
export function encodeUserPassword(password: Buffer, requestAuthenticator: Buffer, secret: Buffer): Buffer {
  const padded = Buffer.alloc(Math.max(16, Math.ceil(password.length / 16) * 16));
  password.copy(padded);
  const out = Buffer.allocUnsafe(padded.length);
  let previous = requestAuthenticator;
  for (let i = 0; i < padded.length; i += 16) {
    const b = createHash('md5').update(secret).update(previous).digest();
    for (let j = 0; j < 16; j++) out[i + j] = padded[i + j]! ^ b[j]!;
    previous = out.subarray(i, i + 16);
  }
  return out;
}

/**
 * Finish a response in place: `packet` holds the header with the Request Authenticator in bytes 4-19 and a zeroed
 * Message-Authenticator value at `maOffset`. Sets the Message-Authenticator, then the Response Authenticator over the
 * packet that already holds it (RFC 3579 §3.2 order).
 */
export function signResponse(packet: Buffer, maOffset: number, secret: Buffer): void {
  createHmac('md5', secret).update(packet).digest().copy(packet, maOffset);
  hash('md5', Buffer.concat([packet, secret]), 'buffer').copy(packet, 4, 0, AUTHENTICATOR_LENGTH);
}
