import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import radius from 'radius';
import { decodeUserPassword, encodeUserPassword, verifyMessageAuthenticator } from '../src/radius/authenticators.js';
import { ATTR, CODE } from '../src/radius/constants.js';
import { loadDictionary } from '../src/radius/dictionary.js';
import { parseRequest, type RadiusRequest } from '../src/radius/packet.js';
import { buildResponse } from '../src/radius/response.js';
import {
  accessRequest,
  attr,
  attributesOf,
  packet,
  prng,
  responseAuthenticator,
  responseMessageAuthenticator,
  signRequest,
} from './radius-wire.js';

const SECRET = 'xyzzy5461';
const KEY = Buffer.from(SECRET);
const AUTH = Buffer.alloc(16, 0xab);

function parsed(datagram: Buffer): RadiusRequest {
  const r = parseRequest(datagram);
  if (!r.ok) throw new Error(`unexpectedly malformed: ${r.reason} (${r.detail})`);
  return r.request;
}

function malformed(datagram: Buffer): string {
  const r = parseRequest(datagram);
  if (r.ok) throw new Error('unexpectedly accepted');
  expect(r.detail.length).toBeGreaterThan(0);
  return r.reason;
}

/** RFC 2865 §7.1: nemo / arctangent, shared secret xyzzy5461. */
const RFC_REQUEST = Buffer.from(
  '010000380f403f9473978057bd83d5cb98f4227a01066e656d6f02120dbe708d93d413ce3196e43f782a0aee0406c0a80110050600000003',
  'hex',
);
const RFC_RESPONSE = Buffer.from('0200002686fe220e7624ba2a1005f6bf9b55e0b2060600000001' + '0f06000000000e06c0a80103', 'hex');

describe('RFC 2865 §7.1 example', () => {
  it('parses the request and reveals "arctangent"', () => {
    const r = parsed(RFC_REQUEST);
    expect(r).toMatchObject({ code: 1, identifier: 0, messageAuthenticatorOffset: -1, hasChap: false, hasEap: false });
    expect(r.packet).toHaveLength(56);
    expect(r.userName?.toString()).toBe('nemo');
    expect(r.nasIpAddress).toEqual(Buffer.from([192, 168, 1, 16]));
    expect(decodeUserPassword(r.userPassword!, r.authenticator, KEY).toString()).toBe('arctangent');
  });

  it('hides "arctangent" to the bytes on the wire', () => {
    const hidden = encodeUserPassword(Buffer.from('arctangent'), RFC_REQUEST.subarray(4, 20), KEY);
    expect(hidden.toString('hex')).toBe('0dbe708d93d413ce3196e43f782a0aee');
  });

  it("the tests' own Response Authenticator helper reproduces the RFC's answer", () => {
    expect(responseAuthenticator(RFC_RESPONSE, RFC_REQUEST.subarray(4, 20), SECRET)).toEqual(RFC_RESPONSE.subarray(4, 20));
  });
});

describe('parseRequest: malformed datagrams', () => {
  const ok = () => [attr(ATTR.USER_NAME, 'alice')];

  it('short datagrams', () => {
    expect(malformed(Buffer.alloc(0))).toBe('short-datagram');
    expect(malformed(Buffer.alloc(19, 1))).toBe('short-datagram');
  });

  it('Length below 20 or above 4096', () => {
    expect(malformed(packet(1, 1, AUTH, ok(), 19))).toBe('bad-length-field');
    expect(malformed(packet(1, 1, AUTH, ok(), 0))).toBe('bad-length-field');
    const big = Buffer.alloc(4200);
    packet(1, 1, AUTH, []).copy(big);
    big.writeUInt16BE(4097, 2);
    expect(malformed(big)).toBe('bad-length-field');
    big.writeUInt16BE(0xffff, 2);
    expect(malformed(big)).toBe('bad-length-field');
    // 4096 itself is allowed
    big.fill(0, 20);
    big.writeUInt16BE(4096, 2);
    for (let o = 20; o < 4096; o += 4) big.set([ATTR.CLASS, 4, 0, 0], o);
    expect(parseRequest(big).ok).toBe(true);
  });

  it('Length beyond the datagram', () => {
    const p = packet(1, 1, AUTH, ok());
    p.writeUInt16BE(p.length + 1, 2);
    expect(malformed(p)).toBe('truncated-datagram');
  });

  it('attribute length 0 or 1', () => {
    expect(malformed(packet(1, 1, AUTH, [...ok(), Buffer.from([ATTR.CLASS, 0, 0, 0])]))).toBe('attribute-length');
    expect(malformed(packet(1, 1, AUTH, [Buffer.from([ATTR.USER_NAME, 1, 0])]))).toBe('attribute-length');
  });

  it('an attribute running past Length, even when the datagram holds it', () => {
    expect(malformed(packet(1, 1, AUTH, [Buffer.from([ATTR.USER_NAME, 10, 0x61, 0x62, 0x63])]))).toBe('attribute-overflow');
    const p = packet(1, 1, AUTH, [attr(ATTR.USER_NAME, 'abcdef')], 25);
    expect(malformed(p)).toBe('attribute-overflow');
    // a single stray byte after the last attribute
    expect(malformed(packet(1, 1, AUTH, [...ok(), Buffer.from([ATTR.CLASS])]))).toBe('attribute-overflow');
  });

  it('two Message-Authenticators', () => {
    const ma = attr(ATTR.MESSAGE_AUTHENTICATOR, Buffer.alloc(16));
    expect(malformed(packet(1, 1, AUTH, [ma, ...ok(), ma]))).toBe('duplicate-message-authenticator');
  });

  it('a Message-Authenticator that is not 16 bytes', () => {
    for (const n of [0, 15, 17, 32]) {
      expect(malformed(packet(1, 1, AUTH, [attr(ATTR.MESSAGE_AUTHENTICATOR, Buffer.alloc(n)), ...ok()])), String(n)).toBe(
        'bad-message-authenticator-length',
      );
    }
  });

  it('a User-Password that is not a multiple of 16 or is longer than 128', () => {
    for (const n of [0, 1, 15, 17, 31, 127, 144, 160, 253]) {
      expect(malformed(packet(1, 1, AUTH, [...ok(), attr(ATTR.USER_PASSWORD, Buffer.alloc(n, 1))])), String(n)).toBe(
        'bad-user-password-length',
      );
    }
    for (const n of [16, 32, 112, 128]) {
      expect(parsed(packet(1, 1, AUTH, [...ok(), attr(ATTR.USER_PASSWORD, Buffer.alloc(n, 1))])).userPassword, String(n)).toHaveLength(n);
    }
  });

  it('a second User-Name or User-Password', () => {
    expect(malformed(packet(1, 1, AUTH, [...ok(), ...ok()]))).toBe('duplicate-attribute');
    const pw = attr(ATTR.USER_PASSWORD, Buffer.alloc(16, 1));
    expect(malformed(packet(1, 1, AUTH, [...ok(), pw, pw]))).toBe('duplicate-attribute');
  });

  it('ignores padding past Length, and the Message-Authenticator still verifies over the packet without it', () => {
    const request = accessRequest({ secret: SECRET, username: 'alice' });
    for (const padding of [Buffer.alloc(1), Buffer.alloc(40, 0xff), Buffer.from([ATTR.MESSAGE_AUTHENTICATOR, 0]), randomBytes(300)]) {
      const r = parsed(Buffer.concat([request, padding]));
      expect(r.packet).toEqual(request);
      expect(r.userName?.toString()).toBe('alice');
      expect(verifyMessageAuthenticator(r.packet, r.messageAuthenticatorOffset, KEY)).toBe(true);
    }
  });
});

describe('parseRequest: what it records', () => {
  it('finds the attributes the server reads, and keeps Proxy-States in order', () => {
    const p = packet(1, 77, AUTH, [
      attr(ATTR.NAS_IDENTIFIER, 'nas-1'),
      attr(ATTR.PROXY_STATE, 'first'),
      attr(ATTR.USER_NAME, 'bob'),
      attr(ATTR.STATE, Buffer.alloc(16, 9)),
      attr(ATTR.CALLING_STATION_ID, '00-11-22'),
      attr(ATTR.CALLED_STATION_ID, 'ssid'),
      attr(ATTR.NAS_IPV6_ADDRESS, Buffer.alloc(16, 1)),
      attr(ATTR.PROXY_STATE, 'second'),
      attr(ATTR.MESSAGE_AUTHENTICATOR, Buffer.alloc(16)),
      attr(ATTR.CHAP_PASSWORD, Buffer.alloc(17)),
      attr(ATTR.EAP_MESSAGE, Buffer.from([2, 0, 0, 5, 1])),
    ]);
    const r = parsed(p);
    expect(r.code).toBe(1);
    expect(r.identifier).toBe(77);
    expect(r.authenticator).toEqual(AUTH);
    expect(r.userName?.toString()).toBe('bob');
    expect(r.state).toEqual(Buffer.alloc(16, 9));
    expect(r.nasIdentifier?.toString()).toBe('nas-1');
    expect(r.callingStationId?.toString()).toBe('00-11-22');
    expect(r.calledStationId?.toString()).toBe('ssid');
    expect(r.nasIpv6Address).toEqual(Buffer.alloc(16, 1));
    expect(r.proxyStates).toEqual([attr(ATTR.PROXY_STATE, 'first'), attr(ATTR.PROXY_STATE, 'second')]);
    expect(r.messageAuthenticatorOffset).toBe(p.indexOf(Buffer.from([ATTR.MESSAGE_AUTHENTICATOR, 18])) + 2);
    expect(r.hasChap).toBe(true);
    expect(r.hasEap).toBe(true);
    expect(r.userPassword).toBeUndefined();
  });
});

describe('verifyMessageAuthenticator', () => {
  const request = accessRequest({ secret: SECRET, username: 'alice', password: 'secret123456' });
  const offset = parsed(request).messageAuthenticatorOffset;

  it('accepts the right HMAC and refuses another secret', () => {
    expect(offset).toBe(22);
    expect(verifyMessageAuthenticator(request, offset, KEY)).toBe(true);
    expect(verifyMessageAuthenticator(request, offset, Buffer.from('xyzzy5462'))).toBe(false);
  });

  it('refuses any altered byte', () => {
    for (let i = 0; i < request.length; i++) {
      const altered = Buffer.from(request);
      altered[i]! ^= 0x01;
      expect(verifyMessageAuthenticator(altered, offset, KEY), `byte ${i}`).toBe(false);
    }
  });

  it('works wherever the attribute is', () => {
    const p = packet(1, 3, AUTH, [attr(ATTR.USER_NAME, 'x'), attr(ATTR.MESSAGE_AUTHENTICATOR, Buffer.alloc(16)), attr(ATTR.NAS_IDENTIFIER, 'n')]);
    signRequest(p, 25, SECRET);
    expect(verifyMessageAuthenticator(p, parsed(p).messageAuthenticatorOffset, KEY)).toBe(true);
  });
});

describe('User-Password hiding', () => {
  const random = prng(4226);
  const printable = (n: number) => Buffer.from(Array.from({ length: n }, () => 33 + Math.floor(random() * 94)));

  it('round-trips every length from 1 to 128 bytes, and the radius package hides them identically', () => {
    for (let n = 1; n <= 128; n++) {
      const password = printable(n);
      const authenticator = randomBytes(16);
      const hidden = encodeUserPassword(password, authenticator, KEY);
      expect(hidden.length, `length ${n}`).toBe(Math.max(16, Math.ceil(n / 16) * 16));
      expect(decodeUserPassword(hidden, authenticator, KEY), `length ${n}`).toEqual(password);
      expect(decodeUserPassword(hidden, authenticator, Buffer.from('other-secret')).equals(password)).toBe(false);
      const theirs = radius.encode({
        code: 'Access-Request', secret: SECRET, authenticator, attributes: [['User-Password', password.toString()]],
      });
      expect(attributesOf(theirs)[0]![1], `length ${n}`).toEqual(hidden);
    }
  });

  it('keeps bytes that are not text, including inner NULs; only trailing NULs (padding) go', () => {
    const password = Buffer.from([0xff, 0x00, 0x80, 0x00, 0x41]);
    const hidden = encodeUserPassword(password, AUTH, KEY);
    expect(decodeUserPassword(hidden, AUTH, KEY)).toEqual(password);
  });

  it('chains blocks: changing the first block changes the decoding of the second', () => {
    const password = printable(32);
    const hidden = encodeUserPassword(password, AUTH, KEY);
    hidden[0]! ^= 1;
    const decoded = decodeUserPassword(hidden, AUTH, KEY);
    expect(decoded.subarray(16)).not.toEqual(password.subarray(16));
  });
});

describe('buildResponse', () => {
  const request = accessRequest({
    secret: SECRET, identifier: 99, username: 'alice',
    extra: [attr(ATTR.PROXY_STATE, 'proxy-one'), attr(ATTR.NAS_IDENTIFIER, 'nas'), attr(ATTR.PROXY_STATE, Buffer.from([0, 1, 2]))],
  });
  const req = parsed(request);
  const dictionary = loadDictionary();
  const replies = [
    dictionary.encode({ name: 'Reply-Message', value: 'Welcome' }),
    dictionary.encode({ name: 'Session-Timeout', value: '3600' }),
    dictionary.encode({ name: 'Fortinet-Group-Name', value: 'vpn' }),
  ];

  it('puts Message-Authenticator first, then the attributes, then the Proxy-States unchanged and in order', () => {
    const response = buildResponse(CODE.ACCESS_ACCEPT, req, KEY, replies);
    expect(response[0]).toBe(2);
    expect(response[1]).toBe(99);
    expect(response.readUInt16BE(2)).toBe(response.length);
    const attrs = attributesOf(response);
    expect(attrs.map(([t]) => t)).toEqual([ATTR.MESSAGE_AUTHENTICATOR, 18, 27, 26, ATTR.PROXY_STATE, ATTR.PROXY_STATE]);
    expect(attrs[0]![1]).toHaveLength(16);
    expect(attrs[4]![1].toString()).toBe('proxy-one');
    expect(attrs[5]![1]).toEqual(Buffer.from([0, 1, 2]));
  });

  it('signs it as RFC 2865 §3 and RFC 3579 §3.2 say (checked with independent code)', () => {
    for (const code of [CODE.ACCESS_ACCEPT, CODE.ACCESS_REJECT, CODE.ACCESS_CHALLENGE]) {
      const response = buildResponse(code, req, KEY, replies);
      expect(response.subarray(4, 20)).toEqual(responseAuthenticator(response, req.authenticator, SECRET));
      expect(response.subarray(22, 38)).toEqual(responseMessageAuthenticator(response, 22, req.authenticator, SECRET));
    }
  });

  it('verifies with the radius package, which also decodes it', () => {
    const response = buildResponse(CODE.ACCESS_ACCEPT, req, KEY, replies);
    expect(radius.verify_response({ response, request, secret: SECRET })).toBe(true);
    expect(radius.verify_response({ response, request, secret: 'not-the-secret' })).toBe(false);
    const decoded = radius.decode({ packet: response, secret: SECRET });
    expect(decoded.code).toBe('Access-Accept');
    expect(decoded.identifier).toBe(99);
    expect(decoded.attributes['Reply-Message']).toBe('Welcome');
    expect(decoded.attributes['Session-Timeout']).toBe(3600);
    expect(decoded.raw_attributes[0]![0]).toBe(ATTR.MESSAGE_AUTHENTICATOR);
    for (let i = 20; i < response.length; i++) {
      const altered = Buffer.from(response);
      altered[i]! ^= 0x20;
      expect(radius.verify_response({ response: altered, request, secret: SECRET }), `byte ${i}`).toBe(false);
    }
  });

  it('answers a request without attributes (Status-Server) with just the Message-Authenticator', () => {
    const status = signRequest(packet(CODE.STATUS_SERVER, 5, randomBytes(16), [attr(ATTR.MESSAGE_AUTHENTICATOR, Buffer.alloc(16))]), 22, SECRET);
    const response = buildResponse(CODE.ACCESS_ACCEPT, parsed(status), KEY, []);
    expect(response).toHaveLength(38);
    expect(radius.verify_response({ response, request: status, secret: SECRET })).toBe(true);
  });

  it('leaves out attributes that would push it past 4096 bytes, and still signs it', () => {
    const big = Array.from({ length: 20 }, (_, i) => attr(ATTR.CLASS, Buffer.alloc(253, i)));
    const response = buildResponse(CODE.ACCESS_ACCEPT, req, KEY, big);
    expect(response.length).toBeLessThanOrEqual(4096);
    expect(response.readUInt16BE(2)).toBe(response.length);
    expect(attributesOf(response).filter(([t]) => t === ATTR.CLASS).length).toBeGreaterThanOrEqual(14);
    expect(radius.verify_response({ response, request, secret: SECRET })).toBe(true);
  });
});

describe('requests encoded by the radius package', () => {
  it('a Message-Authenticator given in the attribute list is left as given (zeros): parsed, but it does not verify', () => {
    const encoded = radius.encode({
      code: 'Access-Request', secret: SECRET, identifier: 12,
      attributes: [['User-Name', 'x'], ['User-Password', 'y'], ['Message-Authenticator', Buffer.alloc(16)]],
    });
    const r = parsed(encoded);
    expect(r.userName?.toString()).toBe('x');
    expect(decodeUserPassword(r.userPassword!, r.authenticator, KEY).toString()).toBe('y');
    expect(encoded.subarray(r.messageAuthenticatorOffset, r.messageAuthenticatorOffset + 16)).toEqual(Buffer.alloc(16));
    expect(verifyMessageAuthenticator(r.packet, r.messageAuthenticatorOffset, KEY)).toBe(false);
  });

  it('one it adds itself (add_message_authenticator) verifies, though it sits last', () => {
    const encoded = radius.encode({
      code: 'Access-Request', secret: SECRET, identifier: 13, add_message_authenticator: true,
      attributes: [['User-Name', 'x'], ['User-Password', 'y']],
    });
    const r = parsed(encoded);
    expect(r.messageAuthenticatorOffset).toBe(encoded.length - 16);
    expect(verifyMessageAuthenticator(r.packet, r.messageAuthenticatorOffset, KEY)).toBe(true);
    expect(verifyMessageAuthenticator(r.packet, r.messageAuthenticatorOffset, Buffer.from('wrong'))).toBe(false);
    expect(decodeUserPassword(r.userPassword!, r.authenticator, KEY).toString()).toBe('y');
    // and otpgate's answer to it verifies on the package's side
    const response = buildResponse(CODE.ACCESS_REJECT, r, KEY, []);
    expect(radius.verify_response({ response, request: encoded, secret: SECRET })).toBe(true);
  });

  it('asking for one on top of a listed one makes two, which otpgate refuses', () => {
    const encoded = radius.encode({
      code: 'Access-Request', secret: SECRET, add_message_authenticator: true,
      attributes: [['User-Name', 'x'], ['Message-Authenticator', Buffer.alloc(16)]],
    });
    expect(malformed(encoded)).toBe('duplicate-message-authenticator');
  });

  it('a Status-Server gets one automatically, which verifies', () => {
    const encoded = radius.encode({ code: 'Status-Server', secret: SECRET, attributes: [['NAS-Identifier', 'probe']] });
    const r = parsed(encoded);
    expect(r.code).toBe(CODE.STATUS_SERVER);
    expect(verifyMessageAuthenticator(r.packet, r.messageAuthenticatorOffset, KEY)).toBe(true);
  });
});
