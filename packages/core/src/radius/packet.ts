/**
 * The lean request decoder on the hot path: one pass over the attributes, recording where the few the server reads
 * are (no per-attribute objects, no dictionary). Malformed input returns a reason instead of throwing, because a
 * flood of junk must cost as little as possible.
 */
import { ATTR, AUTHENTICATOR_LENGTH, HEADER_LENGTH, MAX_PACKET_LENGTH, MAX_PASSWORD_LENGTH } from './constants.js';

export interface RadiusRequest {
  code: number;
  identifier: number;
  /** The whole packet up to its Length field (padding past it is ignored, RFC 2865 §3). */
  packet: Buffer;
  authenticator: Buffer;
  userName: Buffer | undefined;
  /** The hidden User-Password as sent (decode with the client's secret). */
  userPassword: Buffer | undefined;
  state: Buffer | undefined;
  /** Offset of the Message-Authenticator value in `packet`, or -1 when absent. */
  messageAuthenticatorOffset: number;
  proxyStates: Buffer[];
  hasChap: boolean;
  hasEap: boolean;
  nasIpAddress: Buffer | undefined;
  nasIpv6Address: Buffer | undefined;
  nasIdentifier: Buffer | undefined;
  callingStationId: Buffer | undefined;
  calledStationId: Buffer | undefined;
}

export type MalformedReason =
  | 'short-datagram'
  | 'bad-length-field'
  | 'truncated-datagram'
  | 'attribute-length'
  | 'attribute-overflow'
  | 'bad-message-authenticator-length'
  | 'duplicate-message-authenticator'
  | 'bad-user-password-length'
  | 'duplicate-attribute';

export type ParseResult = { ok: true; request: RadiusRequest } | { ok: false; reason: MalformedReason; detail: string };

function malformed(reason: MalformedReason, detail: string): ParseResult {
  return { ok: false, reason, detail };
}

export function parseRequest(datagram: Buffer): ParseResult {
  if (datagram.length < HEADER_LENGTH) return malformed('short-datagram', `${datagram.length} bytes, a header is 20`);
  const length = datagram.readUInt16BE(2);
  if (length < HEADER_LENGTH || length > MAX_PACKET_LENGTH) {
    return malformed('bad-length-field', `Length field ${length} is outside 20-4096`);
  }
  if (length > datagram.length) {
    return malformed('truncated-datagram', `Length field ${length} but only ${datagram.length} bytes arrived`);
  }
  const packet = length === datagram.length ? datagram : datagram.subarray(0, length);
  const request: RadiusRequest = {
    code: packet[0]!,
    identifier: packet[1]!,
    packet,
    authenticator: packet.subarray(4, 4 + AUTHENTICATOR_LENGTH),
    userName: undefined,
    userPassword: undefined,
    state: undefined,
    messageAuthenticatorOffset: -1,
    proxyStates: [],
    hasChap: false,
    hasEap: false,
    nasIpAddress: undefined,
    nasIpv6Address: undefined,
    nasIdentifier: undefined,
    callingStationId: undefined,
    calledStationId: undefined,
  };
  let offset = HEADER_LENGTH;
  while (offset < length) {
    if (offset + 2 > length) return malformed('attribute-overflow', `attribute header at byte ${offset} runs past the end`);
    const type = packet[offset]!;
    const attrLength = packet[offset + 1]!;
    if (attrLength < 2) return malformed('attribute-length', `attribute ${type} at byte ${offset} has length ${attrLength}`);
    const end = offset + attrLength;
    if (end > length) return malformed('attribute-overflow', `attribute ${type} at byte ${offset} runs past Length ${length}`);
    const value = packet.subarray(offset + 2, end);
    switch (type) {
      case ATTR.USER_NAME:
        if (request.userName) return malformed('duplicate-attribute', 'more than one User-Name');
        request.userName = value;
        break;
      case ATTR.USER_PASSWORD:
        if (request.userPassword) return malformed('duplicate-attribute', 'more than one User-Password');
        if (value.length < 16 || value.length > MAX_PASSWORD_LENGTH || value.length % 16 !== 0) {
          return malformed('bad-user-password-length', `User-Password of ${value.length} bytes (16-128, a multiple of 16)`);
        }
        request.userPassword = value;
        break;
      case ATTR.STATE:
        request.state = value;
        break;
      case ATTR.MESSAGE_AUTHENTICATOR:
        if (request.messageAuthenticatorOffset >= 0) {
          return malformed('duplicate-message-authenticator', 'more than one Message-Authenticator');
        }
        if (attrLength !== 18) return malformed('bad-message-authenticator-length', `Message-Authenticator of length ${attrLength}`);
        request.messageAuthenticatorOffset = offset + 2;
        break;
      case ATTR.PROXY_STATE:
        request.proxyStates.push(packet.subarray(offset, end));
        break;
      case ATTR.CHAP_PASSWORD:
        request.hasChap = true;
        break;
      case ATTR.EAP_MESSAGE:
        request.hasEap = true;
        break;
      case ATTR.NAS_IP_ADDRESS:
        request.nasIpAddress = value;
        break;
      case ATTR.NAS_IPV6_ADDRESS:
        request.nasIpv6Address = value;
        break;
      case ATTR.NAS_IDENTIFIER:
        request.nasIdentifier = value;
        break;
      case ATTR.CALLING_STATION_ID:
        request.callingStationId = value;
        break;
      case ATTR.CALLED_STATION_ID:
        request.calledStationId = value;
        break;
      default:
        break;
    }
    offset = end;
  }
  return { ok: true, request };
}
