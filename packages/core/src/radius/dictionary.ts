/**
 * RADIUS attribute dictionary in FreeRADIUS's file format. The standard attributes come from the RFC dictionaries
 * vendored in `dictionaries/rfc/` (FreeRADIUS's files as the `radius` package ships them, BSD licence beside them);
 * vendor attributes from otpgate's own file (and any the admin adds). Used off the
 * hot path: to validate and pre-encode reply attributes, and to list attributes in the admin UI.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isIP } from 'node:net';
import { InvalidInputError, ipv6Bytes, type ReplyAttribute } from '@otpgate/shared';
import { ATTR } from './constants.js';

export type AttributeDataType =
  | 'string'
  | 'octets'
  | 'integer'
  | 'ipaddr'
  | 'ipv6addr'
  | 'ipv6prefix'
  | 'date'
  | 'short'
  | 'byte'
  | 'integer64'
  | 'ifid'
  | 'ether';

export interface AttributeDefinition {
  name: string;
  /** 0 for standard attributes. */
  vendorId: number;
  vendorName: string;
  type: number;
  dataType: AttributeDataType;
  hasTag: boolean;
  encrypted: boolean;
  /** Named values (VALUE lines), name -> number. */
  values: Map<string, number>;
}

const KNOWN_TYPES = new Set<string>([
  'string', 'octets', 'integer', 'ipaddr', 'ipv6addr', 'ipv6prefix', 'date', 'short', 'byte', 'integer64', 'ifid', 'ether',
]);

/** Attributes the server manages itself, or that have no meaning in a reply: refused in reply attribute lists. */
const NOT_IN_REPLIES = new Set<number>([
  ATTR.USER_PASSWORD, ATTR.CHAP_PASSWORD, ATTR.STATE, ATTR.VENDOR_SPECIFIC, ATTR.PROXY_STATE, ATTR.CHAP_CHALLENGE,
  ATTR.EAP_MESSAGE, ATTR.MESSAGE_AUTHENTICATOR,
]);

export class Dictionary {
  private readonly byName = new Map<string, AttributeDefinition>();
  private readonly vendors = new Map<string, number>();

  /** Parse one dictionary file's text; `$INCLUDE` is not followed (otpgate loads whole folders). */
  load(text: string, source: string): void {
    let vendor = { id: 0, name: '' };
    const vendorIds = new Map<number, string>();
    const pendingValues: Array<[string, string, number]> = [];
    text.split('\n').forEach((rawLine, index) => {
      const line = rawLine.replace(/#.*/, '').trim();
      if (!line) return;
      const f = line.split(/\s+/);
      const where = `${source}:${index + 1}`;
      switch (f[0]) {
        case 'VENDOR': {
          const id = Number(f[2]);
          if (!f[1] || !Number.isInteger(id)) throw new Error(`${where}: bad VENDOR line`);
          this.vendors.set(f[1].toLowerCase(), id);
          vendorIds.set(id, f[1]);
          return;
        }
        case 'BEGIN-VENDOR': {
          const id = this.vendors.get((f[1] ?? '').toLowerCase());
          if (id === undefined) throw new Error(`${where}: BEGIN-VENDOR of unknown vendor ${f[1]}`);
          vendor = { id, name: f[1] ?? '' };
          return;
        }
        case 'END-VENDOR':
          vendor = { id: 0, name: '' };
          return;
        case 'ATTRIBUTE': {
          const [, name, num, typeText, flags = ''] = f;
          const dataType = (typeText ?? '').toLowerCase().replace(/\[\d+\]$/, '');
          if (!name || !num || !KNOWN_TYPES.has(dataType)) return; // types otpgate cannot encode (tlv, abinary...) are skipped
          this.byName.set(name.toLowerCase(), {
            name,
            vendorId: vendor.id,
            vendorName: vendor.name,
            type: Number(num),
            dataType: dataType as AttributeDataType,
            hasTag: flags.includes('has_tag'),
            encrypted: flags.includes('encrypt='),
            values: new Map(),
          });
          return;
        }
        case 'VALUE': {
          const [, attr, valueName, num] = f;
          if (attr && valueName && num) pendingValues.push([attr, valueName, Number(num)]);
          return;
        }
        default:
          return; // $INCLUDE, FLAGS, PROTOCOL...: not needed for replies
      }
    });
    for (const [attr, valueName, num] of pendingValues) this.byName.get(attr.toLowerCase())?.values.set(valueName, num);
  }

  get(name: string): AttributeDefinition | undefined {
    return this.byName.get(name.toLowerCase());
  }

  /** Every known attribute, for the admin UI's attribute editor. */
  list(): AttributeDefinition[] {
    return [...this.byName.values()].sort((a, b) => a.vendorId - b.vendorId || a.type - b.type);
  }

  /**
   * Encode one reply attribute to its wire form (type, length, value; wrapped in Vendor-Specific for vendor
   * attributes). Throws InvalidInputError with a message an admin can act on.
   */
  encode(attribute: ReplyAttribute): Buffer {
    const [baseName, tagText] = attribute.name.split(':');
    const def = this.get(baseName ?? '');
    if (!def) throw new InvalidInputError(`unknown attribute "${attribute.name}" (not in the dictionary)`, 'attributes');
    const what = `attribute ${def.name}`;
    if (def.vendorId === 0 && NOT_IN_REPLIES.has(def.type)) {
      throw new InvalidInputError(`${def.name} cannot be set as a reply attribute`, 'attributes');
    }
    if (def.encrypted) {
      throw new InvalidInputError(`${def.name} is an encrypted attribute, which otpgate does not send as a reply attribute`, 'attributes');
    }
    let tag: number | undefined;
    if (tagText !== undefined) {
      tag = Number(tagText);
      if (!def.hasTag) throw new InvalidInputError(`${what} takes no tag`, 'attributes');
      if (!Number.isInteger(tag) || tag < 0 || tag > 31) throw new InvalidInputError(`${what}: tag must be 0-31`, 'attributes');
    }
    let value = encodeValue(def, attribute.value.trim(), what);
    if (def.hasTag) {
      if (def.dataType === 'integer') value[0] = tag ?? 0; // RFC 2868: the tag takes the first of the 4 octets
      else if (tag !== undefined) value = Buffer.concat([Buffer.from([tag]), value]);
    }
    const max = def.vendorId === 0 ? 253 : 247;
    if (value.length > max) throw new InvalidInputError(`${what}: value is ${value.length} bytes, at most ${max}`, 'attributes');
    if (def.vendorId === 0) return Buffer.concat([Buffer.from([def.type, value.length + 2]), value]);
    const vsa = Buffer.alloc(8 + value.length);
    vsa[0] = ATTR.VENDOR_SPECIFIC;
    vsa[1] = vsa.length;
    vsa.writeUInt32BE(def.vendorId, 2);
    vsa[6] = def.type;
    vsa[7] = value.length + 2;
    value.copy(vsa, 8);
    return vsa;
  }
}

function fail(what: string, message: string): never {
  throw new InvalidInputError(`${what}: ${message}`, 'attributes');
}

function encodeUnsigned(def: AttributeDefinition, text: string, bytes: 1 | 2 | 4 | 8, what: string): Buffer {
  const named = def.values.get(text) ?? [...def.values].find(([k]) => k.toLowerCase() === text.toLowerCase())?.[1];
  if (named === undefined && !/^\d+$/.test(text)) {
    const known = [...def.values.keys()].slice(0, 8).join(', ');
    fail(what, `"${text}" is not a number${known ? ` or one of ${known}${def.values.size > 8 ? ', ...' : ''}` : ''}`);
  }
  const n = BigInt(named ?? text);
  if (n >= 1n << BigInt(bytes * 8) || (def.hasTag && bytes === 4 && n >= 1n << 24n)) fail(what, `${text} is too large`);
  const out = Buffer.alloc(bytes);
  if (bytes === 8) out.writeBigUInt64BE(n);
  else out.writeUIntBE(Number(n), 0, bytes);
  return out;
}

function encodeValue(def: AttributeDefinition, text: string, what: string): Buffer {
  switch (def.dataType) {
    case 'string':
      if (text.length === 0) fail(what, 'value is empty');
      return Buffer.from(text, 'utf8');
    case 'octets':
      if (/^0x([0-9a-f]{2})+$/i.test(text)) return Buffer.from(text.slice(2), 'hex');
      if (text.length === 0) fail(what, 'value is empty');
      return Buffer.from(text, 'utf8');
    case 'integer':
      return encodeUnsigned(def, text, 4, what);
    case 'short':
      return encodeUnsigned(def, text, 2, what);
    case 'byte':
      return encodeUnsigned(def, text, 1, what);
    case 'integer64':
      return encodeUnsigned(def, text, 8, what);
    case 'date': {
      const seconds = /^\d+$/.test(text) ? Number(text) : Math.floor(Date.parse(text) / 1000);
      if (!Number.isFinite(seconds) || seconds < 0 || seconds > 0xffffffff) fail(what, `"${text}" is not a date`);
      const out = Buffer.alloc(4);
      out.writeUInt32BE(seconds);
      return out;
    }
    case 'ipaddr':
      if (isIP(text) !== 4) fail(what, `"${text}" is not an IPv4 address`);
      return Buffer.from(text.split('.').map(Number));
    case 'ipv6addr':
      if (isIP(text) !== 6) fail(what, `"${text}" is not an IPv6 address`);
      return ipv6Bytes(text);
    case 'ipv6prefix': {
      const [addr = '', lenText = ''] = text.split('/');
      const len = Number(lenText);
      if (isIP(addr) !== 6 || !Number.isInteger(len) || len < 0 || len > 128) fail(what, `"${text}" is not an IPv6 prefix`);
      return Buffer.concat([Buffer.from([0, len]), ipv6Bytes(addr).subarray(0, Math.ceil(len / 8))]);
    }
    case 'ifid':
      if (!/^([0-9a-f]{1,4}:){3}[0-9a-f]{1,4}$/i.test(text)) fail(what, `"${text}" is not an interface id (xxxx:xxxx:xxxx:xxxx)`);
      return Buffer.from(text.split(':').map((g) => g.padStart(4, '0')).join(''), 'hex');
    case 'ether':
      if (!/^([0-9a-f]{2}[:-]){5}[0-9a-f]{2}$/i.test(text)) fail(what, `"${text}" is not a MAC address`);
      return Buffer.from(text.replace(/[:-]/g, ''), 'hex');
  }
}

const here = dirname(fileURLToPath(import.meta.url));
/** otpgate's own dictionary folder (vendor attributes), beside src/ and dist/. */
export const BUILTIN_DICTIONARY_DIR = join(here, '..', '..', 'dictionaries');
/** The standard RFC dictionaries, vendored so that a production install needs no RADIUS client library. */
export const RFC_DICTIONARY_DIR = join(BUILTIN_DICTIONARY_DIR, 'rfc');

function loadFolder(dictionary: Dictionary, dir: string): void {
  for (const file of readdirSync(dir).sort()) {
    if (file.startsWith('dictionary')) dictionary.load(readFileSync(join(dir, file), 'latin1'), file);
  }
}

/** The standard RFC dictionaries, otpgate's vendor file, then any extra files or folders the admin configured. */
export function loadDictionary(extraFiles: readonly string[] = []): Dictionary {
  const dictionary = new Dictionary();
  loadFolder(dictionary, RFC_DICTIONARY_DIR);
  loadFolder(dictionary, BUILTIN_DICTIONARY_DIR);
  for (const file of extraFiles) dictionary.load(readFileSync(file, 'latin1'), file);
  return dictionary;
}
