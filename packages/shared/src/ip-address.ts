/**
 * IP addresses and CIDR blocks, IPv4 and IPv6 alike: the RADIUS client table, client records and the web servers'
 * allow lists (admin.allow, enrollment.allow) all match addresses with these.
 */
import { isIP } from 'node:net';

/** The 16 bytes of an IPv6 address (the caller has checked it with isIP). */
export function ipv6Bytes(text: string): Buffer {
  let address = text;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(address);
  if (v4?.[1]) {
    const p = v4[1].split('.').map(Number);
    address = address.slice(0, -v4[1].length) + `${((p[0]! << 8) | p[1]!).toString(16)}:${((p[2]! << 8) | p[3]!).toString(16)}`;
  }
  const [head = '', tail] = address.split('::');
  const headGroups = head ? head.split(':') : [];
  const tailGroups = tail ? tail.split(':') : [];
  const groups = tail === undefined ? headGroups : [...headGroups, ...Array<string>(8 - headGroups.length - tailGroups.length).fill('0'), ...tailGroups];
  const out = Buffer.alloc(16);
  groups.forEach((g: string, i: number) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

/** Addresses as 16 bytes (IPv4 as ::ffff:a.b.c.d), so one comparison covers both families. */
export function addressBytes(text: string): Buffer | undefined {
  const family = isIP(text);
  if (family === 4) return Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, ...text.split('.').map(Number)]);
  if (family === 6) return ipv6Bytes(text.replace(/%.*$/, ''));
  return undefined;
}

/**
 * A dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d, and link-local IPv6 peers with a zone (%eth0); clients
 * are configured with the plain forms.
 */
export function normalizeAddress(text: string): string {
  const bare = text.replace(/%.*$/, '');
  return bare.toLowerCase().startsWith('::ffff:') && isIP(bare.slice(7)) === 4 ? bare.slice(7) : bare;
}

export interface Cidr {
  bytes: Buffer;
  /** Prefix length counted on the 128-bit form. */
  bits: number;
  /** The canonical text, e.g. "10.0.0.0/8". */
  text: string;
}

/** Parse "10.1.2.3", "10.0.0.0/8", "2001:db8::/32"; returns an error message when it is neither. */
export function parseCidr(text: string): Cidr | string {
  const [rawAddr = '', rawLen] = text.trim().split('/');
  const mapped = rawAddr.toLowerCase().startsWith('::ffff:') && isIP(rawAddr.slice(7)) === 4;
  // ::ffff:a.b.c.d/120 is the IPv4 block a.b.c.d/24: store the IPv4 form the client table matches
  const addr = mapped ? rawAddr.slice(7) : rawAddr;
  const lenText = mapped && rawLen !== undefined ? String(Number(rawLen) - 96) : rawLen;
  const family = isIP(addr);
  if (family === 0) return `"${text}" is not an IP address or CIDR block`;
  const maxBits = family === 4 ? 32 : 128;
  const len = lenText === undefined ? maxBits : Number(lenText);
  if (!/^\d+$/.test(lenText ?? String(maxBits)) || len > maxBits) return `"${text}": prefix length must be 0-${maxBits}`;
  const bytes = addressBytes(addr)!;
  const bits = family === 4 ? len + 96 : len;
  for (let i = 0; i < 16; i++) {
    const keep = Math.max(0, Math.min(8, bits - i * 8));
    bytes[i]! &= (0xff << (8 - keep)) & 0xff;
  }
  const base = family === 4 ? [...bytes.subarray(12)].join('.') : formatIpv6(bytes);
  return { bytes, bits, text: len === maxBits ? base : `${base}/${len}` };
}

export function cidrContains(cidr: Cidr, address: Buffer): boolean {
  const full = cidr.bits >> 3;
  for (let i = 0; i < full; i++) if (cidr.bytes[i] !== address[i]) return false;
  const rest = cidr.bits & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (address[full]! & mask) === cidr.bytes[full];
}

/** Addresses and blocks a peer must be in (admin.allow): IPv4 peers on a dual-stack socket match IPv4 blocks too. */
export class CidrList {
  private constructor(readonly cidrs: readonly Cidr[]) {}

  /** The list, or the problem of every entry that is neither an address nor a block. */
  static parse(texts: readonly string[]): CidrList | string[] {
    const parsed = texts.map(parseCidr);
    const problems = parsed.filter((p): p is string => typeof p === 'string');
    return problems.length > 0 ? problems : new CidrList(parsed as Cidr[]);
  }

  contains(address: string): boolean {
    const bytes = addressBytes(address);
    return bytes !== undefined && this.cidrs.some((c) => cidrContains(c, bytes));
  }
}

/** The text form of 16 IPv6 address bytes, as RFC 5952 recommends: lower case, no leading zeros, longest zero run as "::". */
export function formatIpv6(bytes: Buffer): string {
  const groups = Array.from({ length: 8 }, (_, i) => bytes.readUInt16BE(i * 2).toString(16));
  // collapse the longest run of two or more zero groups, the first of equal runs (RFC 5952 section 4.2)
  let best = { start: -1, len: 0 };
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > best.len && j - i > 1) best = { start: i, len: j - i };
    i = j;
  }
  if (best.start < 0) return groups.join(':');
  return `${groups.slice(0, best.start).join(':')}::${groups.slice(best.start + best.len).join(':')}`;
}
