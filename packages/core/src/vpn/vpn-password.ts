/**
 * The one-time VPN password: printable, short enough for PAP (RFC 2865: 128 bytes), 120 bits of randomness, and of a
 * shape ordinary passwords rarely have, so the RADIUS pipeline looks a credential up only for passwords of that shape.
 * Only its SHA-256 is stored: a hash of 120 random bits cannot be reversed by guessing, so no slow hash is needed, and
 * the replica can hand the hash (never the password) to the master.
 */
import { createHash, randomBytes } from 'node:crypto';
import { toBase32 } from '../otp/secret.js';

const PREFIX = 'vpn-';
/** 15 bytes: 120 bits, exactly 24 base32 characters (no padding). */
const RANDOM_BYTES = 15;
const SHAPE = /^vpn-[a-z2-7]{24}$/;

export function newVpnPassword(): string {
  return PREFIX + toBase32(randomBytes(RANDOM_BYTES)).toLowerCase();
}

/** Whether a User-Password could be a VPN credential (the lookup costs a store read, or a call to the master). */
export function looksLikeVpnPassword(password: string): boolean {
  return SHAPE.test(password);
}

export function vpnPasswordHash(password: string): string {
  return createHash('sha256').update(`otpgate-vpn-credential\0${password}`).digest('hex');
}
