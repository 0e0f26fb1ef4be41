import { createHash, createHmac, randomBytes } from 'node:crypto';
import { encodeUserPassword } from '../src/radius/authenticators.js';
import { ATTR } from '../src/radius/constants.js';

/** Hand-built RADIUS packets for the codec tests and the fuzzer (independent of otpgate's own encoder). */
export function attr(type: number, value: Buffer | string): Buffer {
  const v = typeof value === 'string' ? Buffer.from(value) : value;
  return Buffer.concat([Buffer.from([type, v.length + 2]), v]);
}

/** A packet with the Length field set to the real length unless `length` says otherwise. */
export function packet(code: number, identifier: number, authenticator: Buffer, attributes: Buffer[], length?: number): Buffer {
  const p = Buffer.concat([Buffer.from([code, identifier, 0, 0]), authenticator, ...attributes]);
  p.writeUInt16BE(length ?? p.length, 2);
  return p;
}

/** Fill in the Message-Authenticator whose value starts at `offset` (RFC 3579 §3.2, request form). */
export function signRequest(p: Buffer, offset: number, secret: string): Buffer {
  p.fill(0, offset, offset + 16);
  createHmac('md5', secret).update(p).digest().copy(p, offset);
  return p;
}

/** An Access-Request with Message-Authenticator first, User-Name, hidden User-Password and any extra attributes. */
export function accessRequest(options: { secret: string; username?: string; password?: string; identifier?: number; extra?: Buffer[]; authenticator?: Buffer }): Buffer {
  const authenticator = options.authenticator ?? randomBytes(16);
  const p = packet(1, options.identifier ?? 1, authenticator, [
    attr(ATTR.MESSAGE_AUTHENTICATOR, Buffer.alloc(16)),
    attr(ATTR.USER_NAME, options.username ?? 'alice'),
    attr(ATTR.USER_PASSWORD, encodeUserPassword(Buffer.from(options.password ?? 'password123456'), authenticator, Buffer.from(options.secret))),
    ...(options.extra ?? []),
  ]);
  return signRequest(p, 22, options.secret);
}

/** RFC 2865 §3 Response Authenticator, computed here without otpgate's code. */
export function responseAuthenticator(response: Buffer, requestAuthenticator: Buffer, secret: string): Buffer {
  const copy = Buffer.from(response);
  requestAuthenticator.copy(copy, 4);
  return createHash('md5').update(copy).update(secret).digest();
}

/** RFC 3579 §3.2 Message-Authenticator of a response: request authenticator in place, the value zeroed. */
export function responseMessageAuthenticator(response: Buffer, offset: number, requestAuthenticator: Buffer, secret: string): Buffer {
  const copy = Buffer.from(response);
  requestAuthenticator.copy(copy, 4);
  copy.fill(0, offset, offset + 16);
  return createHmac('md5', secret).update(copy).digest();
}

/** The attributes of a packet as [type, value] pairs, walking the Length field. */
export function attributesOf(p: Buffer): Array<[number, Buffer]> {
  const out: Array<[number, Buffer]> = [];
  const length = p.readUInt16BE(2);
  for (let o = 20; o < length; o += p[o + 1]!) out.push([p[o]!, p.subarray(o + 2, o + p[o + 1]!)]);
  return out;
}

/** A small seeded PRNG (mulberry32), so a failing fuzz case can be replayed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
