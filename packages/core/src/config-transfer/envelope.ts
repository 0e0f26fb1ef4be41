/**
 * Secrets of a config export: AES-256-GCM under a key derived from the passphrase with scrypt (memory-hard:
 * N = 2^17, r = 8 takes 128 MiB, which makes guessing on graphics cards expensive). The authenticated data is the
 * hash of the document body, so secrets cannot be moved into another document.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { canonicalJson, InvalidInputError } from '@otpgate/shared';
import type { KdfParameters, SecretsEnvelope } from './document.js';
import { WrongPassphraseError } from './errors.js';
import { keyFromPassphrase } from '../passphrase-key.js';

export const DEFAULT_SCRYPT_N = 2 ** 17;
export const CONFIG_MIN_PASSPHRASE_LENGTH = 12;

function deriveKey(passphrase: string, kdf: KdfParameters): Promise<Buffer> {
  return keyFromPassphrase(passphrase, Buffer.from(kdf.salt, 'base64'), kdf.key_length, kdf);
}

export async function sealSecrets(secrets: unknown, passphrase: string, bodyHash: Buffer, n = DEFAULT_SCRYPT_N): Promise<SecretsEnvelope> {
  if (passphrase.length < CONFIG_MIN_PASSPHRASE_LENGTH) {
    throw new InvalidInputError(`must be at least ${CONFIG_MIN_PASSPHRASE_LENGTH} characters (a few random words are good)`, 'passphrase');
  }
  const kdf: KdfParameters = { name: 'scrypt', n, r: 8, p: 1, salt: randomBytes(16).toString('base64'), key_length: 32 };
  const key = await deriveKey(passphrase, kdf);
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(bodyHash);
  const ciphertext = Buffer.concat([cipher.update(canonicalJson(secrets), 'utf8'), cipher.final()]);
  return { kdf, cipher: 'aes-256-gcm', iv: iv.toString('base64'), tag: cipher.getAuthTag().toString('base64'), ciphertext: ciphertext.toString('base64') };
}

/** The decrypted secrets (JSON, validated by the caller), or WrongPassphraseError. */
export async function openSecrets(envelope: SecretsEnvelope, passphrase: string, bodyHash: Buffer): Promise<unknown> {
  const key = await deriveKey(passphrase, envelope.kdf);
  const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(envelope.iv, 'base64'));
  decipher.setAAD(bodyHash);
  decipher.setAuthTag(Buffer.from(envelope.tag, 'base64'));
  let plain: Buffer;
  try {
    plain = Buffer.concat([decipher.update(Buffer.from(envelope.ciphertext, 'base64')), decipher.final()]);
  } catch {
    throw new WrongPassphraseError();
  }
  return JSON.parse(plain.toString('utf8')) as unknown;
}

/** SHA-256 of the canonical JSON of a document without its `checksum` field, as "sha256:<hex>". */
export function documentChecksum(document: Record<string, unknown>): string {
  const { checksum: _checksum, ...rest } = document;
  return `sha256:${createHash('sha256').update(canonicalJson(rest)).digest('hex')}`;
}

export function bodyHash(body: unknown): Buffer {
  return createHash('sha256').update('otpgate-config body\n').update(canonicalJson(body)).digest();
}
