/**
 * PSKC (RFC 6030), the format token vendors ship seed files in: plain secrets, or secrets encrypted under a
 * pre-shared key (section 6.1) or a passphrase (PBKDF2, section 6.2). Every HOTP/TOTP key goes into the inventory.
 */
import { InvalidInputError, type HardwareTokenRecord, type OtpAlgorithm, type OtpKind, errorMessage } from '@otpgate/shared';
import { toBase32 } from '../otp/secret.js';
import {
  PBKDF2_URI,
  PskcCryptoError,
  decryptValue,
  derivePassphraseKey,
  hmacName,
  macMatches,
  prfDigest,
} from './pskc-crypto.js';
import type { ImportLookup } from './lookup.js';
import { checkBits } from './secret-check.js';
import type { PlannedRow } from './types.js';
import { attribute, base64, child, children, parseXml, path, text, type XmlNode } from './xml-tree.js';

export interface PskcKeys {
  /** The pre-shared AES key (16, 24 or 32 bytes). */
  psk?: Buffer;
  passphrase?: string;
}

/** One KeyPackage, decoded (never with its secret in a message). */
export interface PskcEntry {
  position: number;
  serial: string;
  manufacturer: string;
  model: string;
  kind?: OtpKind;
  algorithm: OtpAlgorithm;
  digits?: number;
  period?: number;
  counter: number;
  secret?: Buffer;
  encrypted: boolean;
  /** Not a one-time-password key (a PIN): skipped, with why. */
  skip?: string;
  problem?: string;
}

export interface PskcDocument {
  entries: PskcEntry[];
  notes: string[];
}

const PSKC = 'PSKC';
const HOTP_URIS = ['urn:ietf:params:xml:ns:keyprov:pskc:hotp', 'urn:ietf:params:xml:ns:keyprov:pskc#hotp', 'http://www.ietf.org/keyprov/pskc#hotp'];
const TOTP_URIS = ['urn:ietf:params:xml:ns:keyprov:pskc:totp', 'urn:ietf:params:xml:ns:keyprov:pskc#totp', 'http://www.ietf.org/keyprov/pskc#totp'];
const PIN_URIS = ['urn:ietf:params:xml:ns:keyprov:pskc:pin', 'urn:ietf:params:xml:ns:keyprov:pskc#pin'];

interface Decryption {
  key: Buffer;
  mac?: { hash: string; key: Buffer };
}

/** The document key: the pre-shared key as given, or derived from the passphrase with the document's parameters. */
function documentKey(container: XmlNode, keys: PskcKeys, notes: string[]): Decryption | undefined {
  const encryptionKey = child(container, 'EncryptionKey');
  if (encryptionKey === undefined) return undefined;
  const derived = child(encryptionKey, 'DerivedKey');
  let key: Buffer;
  if (derived !== undefined) {
    const method = child(derived, 'KeyDerivationMethod');
    if (attribute(method, 'Algorithm') !== PBKDF2_URI) {
      throw new InvalidInputError(`key derivation ${attribute(method, 'Algorithm') || '(none)'} is not supported (PBKDF2 is)`, PSKC);
    }
    const params = child(method, 'PBKDF2-params');
    const salt = base64(path(params, 'Salt', 'Specified'));
    if (!salt) throw new InvalidInputError('the PBKDF2 parameters have no salt (Salt/Specified)', PSKC);
    if (keys.passphrase === undefined) {
      const name = text(child(derived, 'MasterKeyName'));
      throw new InvalidInputError(`the secrets are encrypted under a passphrase${name ? ` ("${name}")` : ''}: give it (--passphrase-stdin)`, PSKC);
    }
    key = derivePassphraseKey(keys.passphrase, {
      salt,
      iterations: Number(text(child(params, 'IterationCount'))),
      keyLength: Number(text(child(params, 'KeyLength')) || '16'),
      digest: prfDigest(attribute(child(params, 'PRF'), 'Algorithm')),
    });
    notes.push('secrets encrypted under a passphrase (PBKDF2)');
  } else {
    if (!keys.psk) {
      const name = text(child(encryptionKey, 'KeyName'));
      throw new InvalidInputError(`the secrets are encrypted under a pre-shared key${name ? ` ("${name}")` : ''}: give it in hex (--psk-hex-stdin)`, PSKC);
    }
    key = keys.psk;
    notes.push('secrets encrypted under a pre-shared key');
  }
  const macMethod = child(container, 'MACMethod');
  if (macMethod === undefined) {
    notes.push('the file has no MACMethod: the integrity of the encrypted secrets cannot be checked');
    return { key };
  }
  notes.push('every encrypted value is checked against its MAC before it is decrypted');
  const macKeyNode = child(macMethod, 'MACKey');
  const cipherValue = base64(path(macKeyNode, 'CipherData', 'CipherValue'));
  if (!cipherValue) throw new InvalidInputError('MACMethod has no encrypted MACKey', PSKC);
  let macKey: Buffer;
  try {
    macKey = decryptValue(attribute(child(macKeyNode, 'EncryptionMethod'), 'Algorithm'), key, cipherValue);
  } catch (err) {
    throw new InvalidInputError(
      `cannot decrypt the MAC key: ${errorMessage(err).includes('wrong key') ? `wrong ${derived ? 'passphrase' : 'pre-shared key'}, or a damaged file` : errorMessage(err)}`,
      PSKC,
    );
  }
  return { key, mac: { hash: hmacName(attribute(macMethod, 'Algorithm')), key: macKey } };
}

/** A Data value (Secret, Counter, TimeInterval...): plain base64/decimal, or encrypted and MAC-checked. */
function dataValue(node: XmlNode | undefined, decryption: Decryption | undefined): { value?: Buffer; plain?: string; encrypted: boolean } {
  if (node === undefined) return { encrypted: false };
  const plain = child(node, 'PlainValue');
  if (plain !== undefined) return { plain: text(plain), encrypted: false };
  const encrypted = child(node, 'EncryptedValue');
  if (encrypted === undefined) return { encrypted: false };
  if (!decryption) throw new PskcCryptoError('the value is encrypted but the file names no EncryptionKey');
  const cipherValue = base64(path(encrypted, 'CipherData', 'CipherValue'));
  if (!cipherValue) throw new PskcCryptoError('an EncryptedValue has no CipherValue');
  if (decryption.mac) {
    const mac = base64(child(node, 'ValueMAC'));
    if (!mac) throw new PskcCryptoError('the encrypted value has no ValueMAC, so its integrity cannot be checked');
    if (!macMatches(decryption.mac.hash, decryption.mac.key, cipherValue, mac)) {
      throw new PskcCryptoError('the ValueMAC does not match: wrong key, or the file was altered');
    }
  }
  return { value: decryptValue(attribute(child(encrypted, 'EncryptionMethod'), 'Algorithm'), decryption.key, cipherValue), encrypted: true };
}

/** An integer Data value: decimal text when plain, a big-endian number when encrypted. */
function integerValue(node: XmlNode | undefined, decryption: Decryption | undefined, fallback: number, what: string): number {
  const v = dataValue(node, decryption);
  if (v.plain !== undefined) {
    if (!/^\d{1,15}$/.test(v.plain)) throw new PskcCryptoError(`${what} "${v.plain}" is not a whole number`);
    return Number(v.plain);
  }
  if (v.value !== undefined) {
    if (v.value.length === 0 || v.value.length > 6) throw new PskcCryptoError(`${what} is not a whole number`);
    return v.value.readUIntBE(0, v.value.length);
  }
  return fallback;
}

function hashOf(key: XmlNode | undefined): OtpAlgorithm {
  const suite = text(path(key, 'AlgorithmParameters', 'Suite')).toUpperCase();
  if (suite.includes('SHA512') || suite.includes('SHA-512')) return 'SHA512';
  if (suite.includes('SHA256') || suite.includes('SHA-256')) return 'SHA256';
  return 'SHA1';
}

export function readPskc(xml: string, keys: PskcKeys): PskcDocument {
  const root = parseXml(xml, PSKC, ['KeyPackage']);
  const container = child(root, 'KeyContainer');
  if (container === undefined) throw new InvalidInputError('not a PSKC document: the root element is not KeyContainer', PSKC);
  const version = attribute(container, 'Version');
  if (version !== '1.0') throw new InvalidInputError(`PSKC version "${version}" is not supported (1.0 is)`, PSKC);
  const notes: string[] = [];
  let decryption: Decryption | undefined;
  try {
    decryption = documentKey(container, keys, notes);
  } catch (err) {
    // the file's key parameters (PRF, MAC, iteration count) are the whole file's problem: a message, never a 500
    if (err instanceof PskcCryptoError) throw new InvalidInputError(err.message, PSKC);
    throw err;
  }

  const entries = children(container, 'KeyPackage').map((pkg, i): PskcEntry => {
    const key = child(pkg, 'Key');
    const device = child(pkg, 'DeviceInfo');
    const algorithmUri = attribute(key, 'Algorithm');
    const entry: PskcEntry = {
      position: i + 1,
      serial: text(child(device, 'SerialNo')) || attribute(key, 'Id'),
      manufacturer: text(child(device, 'Manufacturer')),
      model: text(child(device, 'Model')),
      algorithm: hashOf(key),
      counter: 0,
      encrypted: false,
    };
    if (key === undefined) return { ...entry, problem: 'the KeyPackage has no Key' };
    if (PIN_URIS.includes(algorithmUri)) return { ...entry, skip: 'a PIN, not a one-time-password key' };
    const kind = HOTP_URIS.includes(algorithmUri) ? 'hotp' : TOTP_URIS.includes(algorithmUri) ? 'totp' : undefined;
    if (!kind) return { ...entry, problem: `algorithm ${algorithmUri || '(none)'} is not HOTP or TOTP` };
    const format = path(key, 'AlgorithmParameters', 'ResponseFormat');
    const encoding = attribute(format, 'Encoding');
    if (encoding !== '' && encoding !== 'DECIMAL') return { ...entry, kind, problem: `response encoding ${encoding} is not supported (DECIMAL is)` };
    const data = child(key, 'Data');
    try {
      const secret = dataValue(child(data, 'Secret'), decryption);
      const value = secret.value ?? (secret.plain !== undefined ? base64(secret.plain) : undefined);
      if (!value) return { ...entry, kind, problem: 'no secret in the file (keys derived from a master key are not supported)' };
      const time0 = integerValue(child(data, 'Time'), decryption, 0, 'Time');
      if (time0 !== 0) return { ...entry, kind, problem: `a TOTP start time (Data/Time ${time0}) other than 0 is not supported` };
      return {
        ...entry,
        kind,
        digits: Number(attribute(format, 'Length') || '6'),
        period: integerValue(child(data, 'TimeInterval'), decryption, 30, 'TimeInterval'),
        counter: integerValue(child(data, 'Counter'), decryption, 0, 'Counter'),
        secret: value,
        encrypted: secret.encrypted,
      };
    } catch (err) {
      if (err instanceof PskcCryptoError || err instanceof InvalidInputError) return { ...entry, kind, problem: err.message.replace(/^PSKC: /, 'the secret ') };
      throw err;
    }
  });
  if (decryption && entries.length > 0 && entries.every((e) => e.problem?.includes('ValueMAC does not match'))) {
    throw new InvalidInputError(`no secret's MAC matches: wrong ${keys.passphrase !== undefined ? 'passphrase' : 'pre-shared key'}, or a damaged file`, PSKC);
  }
  return { entries, notes };
}

export function planPskcEntries(entries: readonly PskcEntry[], lookup: ImportLookup): PlannedRow[] {
  const minBits = lookup.settings.otp.min_secret_bits;
  const positions = new Map<string, number[]>();
  for (const e of entries) if (e.serial && !e.skip) positions.set(e.serial, [...(positions.get(e.serial) ?? []), e.position]);
  const now = Date.now();
  return entries.map((e): PlannedRow => {
    const summary = `serial ${e.serial || '?'}${e.kind ? `, ${e.kind}` : ''}${e.digits ? ` ${e.digits} digits` : ''}${e.manufacturer ? `, ${e.manufacturer}` : ''}`;
    const error = (reason: string): PlannedRow => ({ line: e.position, verdict: 'error', reason, summary });
    if (e.skip) return { line: e.position, verdict: 'skip', reason: e.skip, summary };
    if (e.problem) return error(e.problem);
    if (!e.serial) return error('no serial number (DeviceInfo/SerialNo) and no Key Id');
    if (e.serial.length > 64) return error('the serial number is longer than 64 characters');
    const others = positions.get(e.serial)!;
    if (others.length > 1) return error(`duplicate serial: serial ${e.serial} is in key packages ${others.join(', ')}`);
    if (lookup.serials.has(e.serial)) return error(`duplicate serial: ${e.serial} is already in the inventory`);
    if (e.digits !== 6 && e.digits !== 8) return error(`${e.digits} digits: only 6 and 8 are supported`);
    if (e.kind === 'totp' && e.period !== 30 && e.period !== 60) return error(`time interval ${e.period} s: only 30 and 60 are supported`);
    const bits = checkBits(e.secret!, minBits);
    if (!bits.ok) return error(bits.reason);
    const record: Omit<HardwareTokenRecord, 'id'> = {
      serial: e.serial,
      kind: e.kind!,
      algorithm: e.algorithm,
      digits: e.digits,
      period: (e.kind === 'totp' ? e.period : 30) as 30 | 60,
      secret: toBase32(e.secret!),
      counter: e.counter,
      manufacturer: e.manufacturer.slice(0, 100),
      model: e.model.slice(0, 100),
      token_id: null,
      created_at: now,
    };
    return {
      line: e.position,
      verdict: 'new',
      summary: `${summary}${e.encrypted ? ' (decrypted)' : ''}`,
      write: (ids) => [{ entity: 'hardware_token', op: 'upsert', data: { id: ids.take('hardware_tokens'), ...record } }],
    };
  });
}
