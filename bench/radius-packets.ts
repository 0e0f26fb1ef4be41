/** Access-Requests built by hand for the bench drivers (a Message-Authenticator first, a State when given). */
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { ATTR, CODE, encodeUserPassword } from '@otpgate/core';

export function accessRequest(options: { id: number; username: string; password: string; secret: string; state?: Buffer }): Buffer {
  const secret = Buffer.from(options.secret);
  const authenticator = randomBytes(16);
  const attr = (type: number, value: Buffer) => Buffer.concat([Buffer.from([type, value.length + 2]), value]);
  const packet = Buffer.concat([
    Buffer.from([CODE.ACCESS_REQUEST, options.id, 0, 0]),
    authenticator,
    attr(ATTR.MESSAGE_AUTHENTICATOR, Buffer.alloc(16)),
    attr(ATTR.USER_NAME, Buffer.from(options.username)),
    attr(ATTR.USER_PASSWORD, encodeUserPassword(Buffer.from(options.password), authenticator, secret)),
    ...(options.state ? [attr(ATTR.STATE, options.state)] : []),
  ]);
  packet.writeUInt16BE(packet.length, 2);
  createHmac('md5', secret).update(packet).digest().copy(packet, 22);
  return packet;
}

/** The value of an attribute of a packet, or undefined. */
export function attribute(packet: Buffer, type: number): Buffer | undefined {
  for (let at = 20; at + 2 <= packet.length && packet[at + 1]! >= 2; at += packet[at + 1]!) if (packet[at] === type) return packet.subarray(at + 2, at + packet[at + 1]!);
  return undefined;
}

/** Whether `answer` is signed for the request whose authenticator is `requestAuthenticator` (RFC 2865 §3). */
export function answersRequest(answer: Buffer, requestAuthenticator: Buffer, secret: string): boolean {
  if (answer.length < 20) return false;
  const hash = createHash('md5').update(answer.subarray(0, 4)).update(requestAuthenticator).update(answer.subarray(20)).update(secret).digest();
  return hash.equals(answer.subarray(4, 20));
}
