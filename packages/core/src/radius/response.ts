import { ATTR, HEADER_LENGTH, MAX_PACKET_LENGTH } from './constants.js';
import { signResponse } from './authenticators.js';
import type { RadiusRequest } from './packet.js';

/**
 * Build a signed response: Message-Authenticator first (BlastRADIUS, CVE-2024-3596), then the given attributes
 * (already wire-encoded), then the request's Proxy-State attributes unchanged and in order (RFC 2865 §5.33).
 * Proxy-State is owed to the proxy that sent it, so it is placed first in the 4096-byte budget; reply attributes that
 * no longer fit are left out rather than sending a packet a NAS must drop.
 */
export function buildResponse(code: number, request: RadiusRequest, secret: Buffer, attributes: readonly Buffer[]): Buffer {
  let length = HEADER_LENGTH + 18;
  const proxyStates: Buffer[] = [];
  for (const p of request.proxyStates) {
    if (length + p.length > MAX_PACKET_LENGTH) break;
    proxyStates.push(p);
    length += p.length;
  }
  const parts: Buffer[] = [];
  for (const a of attributes) {
    if (length + a.length > MAX_PACKET_LENGTH) continue;
    parts.push(a);
    length += a.length;
  }
  parts.push(...proxyStates);
  const packet = Buffer.allocUnsafe(length);
  packet[0] = code;
  packet[1] = request.identifier;
  packet.writeUInt16BE(length, 2);
  request.authenticator.copy(packet, 4);
  packet[20] = ATTR.MESSAGE_AUTHENTICATOR;
  packet[21] = 18;
  packet.fill(0, 22, 38);
  let offset = 38;
  for (const a of parts) offset += a.copy(packet, offset);
  signResponse(packet, 22, secret);
  return packet;
}

/** A string attribute (Reply-Message and the like), cut to the 253 bytes an attribute can hold. */
export function stringAttribute(type: number, text: string): Buffer {
  return octetsAttribute(type, Buffer.from(text, 'utf8').subarray(0, 253));
}

export function octetsAttribute(type: number, value: Buffer): Buffer {
  const out = Buffer.allocUnsafe(value.length + 2);
  out[0] = type;
  out[1] = value.length + 2;
  value.copy(out, 2);
  return out;
}
