/**
 * The cryptography of RFC 6030 section 6: secrets encrypted with AES-CBC (the IV prepended to the ciphertext, XML
 * Encryption padding) under a pre-shared key or a key derived from a passphrase with PBKDF2, each with an HMAC over
 * IV + ciphertext (section 6.1.1) made with a MAC key that is itself encrypted under the same key.
 */
import { createDecipheriv, createHmac, pbkdf2Sync, timingSafeEqual } from 'node:crypto';
import { OtpgateError } from '@otpgate/shared';

const XMLENC = 'http://www.w3.org/2001/04/xmlenc#';
const CIPHERS: Record<string, { name: string; keyBytes: number }> = {
  [`${XMLENC}aes128-cbc`]: { name: 'aes-128-cbc', keyBytes: 16 },
  [`${XMLENC}aes192-cbc`]: { name: 'aes-192-cbc', keyBytes: 24 },
  [`${XMLENC}aes256-cbc`]: { name: 'aes-256-cbc', keyBytes: 32 },
};

const MACS: Record<string, string> = {
  'http://www.w3.org/2000/09/xmldsig#hmac-sha1': 'sha1',
  'http://www.w3.org/2001/04/xmldsig-more#hmac-sha224': 'sha224',
  'http://www.w3.org/2001/04/xmldsig-more#hmac-sha256': 'sha256',
  'http://www.w3.org/2001/04/xmldsig-more#hmac-sha384': 'sha384',
  'http://www.w3.org/2001/04/xmldsig-more#hmac-sha512': 'sha512',
};

export const PBKDF2_URI = 'http://www.rsasecurity.com/rsalabs/pkcs/schemas/pkcs-5v2-0#pbkdf2';

/** A PSKC file cannot be decrypted (unsupported algorithm, wrong key, damaged value); the message says which. */
export class PskcCryptoError extends OtpgateError {
  constructor(message: string) {
    super('pskc-crypto', message);
  }
}

export function hmacName(algorithmUri: string): string {
  const name = MACS[algorithmUri];
  if (!name) throw new PskcCryptoError(`MAC algorithm ${algorithmUri} is not supported (HMAC-SHA1/224/256/384/512 are)`);
  return name;
}

/** Decrypt one CipherValue (IV | ciphertext) with the algorithm its EncryptionMethod names. */
export function decryptValue(algorithmUri: string, key: Buffer, data: Buffer): Buffer {
  const cipher = CIPHERS[algorithmUri];
  if (!cipher) throw new PskcCryptoError(`encryption algorithm ${algorithmUri || '(none)'} is not supported (AES-128/192/256-CBC are)`);
  if (key.length !== cipher.keyBytes) {
    throw new PskcCryptoError(`the key is ${key.length * 8} bits but ${cipher.name} needs ${cipher.keyBytes * 8}`);
  }
  if (data.length < 32 || data.length % 16 !== 0) throw new PskcCryptoError('an encrypted value is not an IV and whole AES blocks (damaged?)');
  const decipher = createDecipheriv(cipher.name, key, data.subarray(0, 16));
  // XML Encryption padding: only the last byte (the pad length) is defined, so Node's PKCS#7 check cannot be used
  decipher.setAutoPadding(false);
  const plain = Buffer.concat([decipher.update(data.subarray(16)), decipher.final()]);
  const pad = plain[plain.length - 1]!;
  if (pad < 1 || pad > 16) throw new PskcCryptoError('an encrypted value does not decrypt: wrong key, or the file is damaged');
  return plain.subarray(0, plain.length - pad);
}

/** RFC 6030 6.1.1: the MAC is over the CipherValue as it stands (IV and ciphertext), checked before decrypting. */
export function macMatches(hash: string, macKey: Buffer, cipherValue: Buffer, expected: Buffer): boolean {
  const actual = createHmac(hash, macKey).update(cipherValue).digest();
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

export interface Pbkdf2Parameters {
  salt: Buffer;
  iterations: number;
  keyLength: number;
  /** Node's digest name for the PRF (HMAC-SHA1 when the document names none). */
  digest: string;
}

/** PBKDF2's PRF is named with the same HMAC identifiers as the MAC; none given means HMAC-SHA1 (RFC 8018 A.2). */
const PRFS: Record<string, string> = { '': 'sha1', ...MACS };

export function prfDigest(uri: string): string {
  const digest = PRFS[uri];
  if (!digest) throw new PskcCryptoError(`PBKDF2 PRF ${uri} is not supported`);
  return digest;
}

const MAX_PBKDF2_ITERATIONS = 1_000_000;

/** RFC 6030 6.2 (PKCS #5 v2.0 PBKDF2). Bounded, so a hostile file cannot make us spin for hours. */
export function derivePassphraseKey(passphrase: string, p: Pbkdf2Parameters): Buffer {
  // runs synchronously on the master: vendors ship 1,000 to 100,000; a crafted file must not stall RADIUS for long
  if (!Number.isInteger(p.iterations) || p.iterations < 1 || p.iterations > MAX_PBKDF2_ITERATIONS) {
    throw new PskcCryptoError(`PBKDF2 iteration count ${p.iterations} is out of range (1 to ${MAX_PBKDF2_ITERATIONS.toLocaleString('en')})`);
  }
  if (![16, 24, 32].includes(p.keyLength)) throw new PskcCryptoError(`PBKDF2 key length ${p.keyLength} is not an AES key size (16, 24 or 32)`);
  return pbkdf2Sync(Buffer.from(passphrase, 'utf8'), p.salt, p.iterations, p.keyLength, p.digest);
}
