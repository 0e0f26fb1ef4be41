import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { ATTR, CODE, encodeUserPassword } from '@otpgate/core';
import { FUZZ_PASSWORD, FUZZ_USERS } from './fuzz-fixture.js';

/**
 * The fuzzer's datagrams (bench/fuzz.ts, test/radius-fuzz.test.ts) as fast-check arbitraries. A case is a plan, not
 * bytes: Access-Requests, Status-Servers and other codes with attributes of every legal and illegal size (0-255
 * bytes, hundreds of them), the Message-Authenticator missing, wrong, doubled, of the wrong length or not first,
 * Proxy-State and State in number and size, fragmented EAP-Message, User-Passwords of lengths RFC 2865 forbids; then
 * the framing broken (Length field against datagram length, truncation, padding, two packets in one datagram) — or
 * plain random bytes, or the previous datagram again. A plan is encoded with the client's secret, so a mutated
 * request still carries a correct Message-Authenticator unless the plan says otherwise.
 *
 * Each datagram comes with the reason the server must drop it when RFC 2865, RFC 3579 and the BlastRADIUS rules leave
 * no choice (an answer to it is a defect), or none when an answer is allowed.
 */

/** Where a datagram comes from: the client that must send a Message-Authenticator, the one that need not, or no client. */
export type Source = 'ma-required' | 'ma-optional' | 'unknown';

export type AttributePlan =
  | { kind: 'user-name'; value: Uint8Array }
  /** Hidden as RFC 2865 §5.2 says; a password over 128 bytes gives an illegal length. */
  | { kind: 'user-password'; password: string }
  /** Bytes of any length in place of a hidden password. */
  | { kind: 'user-password-raw'; value: Uint8Array }
  /** A State the server issued and that was used since (index into the context's list). */
  | { kind: 'replayed-state'; index: number }
  | { kind: 'other'; type: number; value: Uint8Array };

export type MessageAuthenticatorPlan =
  /** position 0 is first; otherwise after that many attributes (modulo their number). */
  | { kind: 'signed' | 'wrong' | 'zero' | 'twice'; position: number }
  | { kind: 'bad-length'; valueLength: number; position: number }
  | { kind: 'none' };

export interface PacketPlan {
  code: number;
  identifier: number;
  authenticator: Uint8Array;
  attributes: AttributePlan[];
  messageAuthenticator: MessageAuthenticatorPlan;
  /** Hidden and signed with a secret the server does not know for this client. */
  wrongSecret: boolean;
  /** A last attribute whose length byte is 0 or 1, or runs past the end of the packet (2 is taken as 3). */
  trailer: { type: number; declared: number; missing: number } | undefined;
}

export type Framing =
  | { kind: 'exact' }
  | { kind: 'length-field'; value: number }
  | { kind: 'length-delta'; delta: number }
  /** Cut the datagram short of its Length field (to `cut` modulo its length). */
  | { kind: 'truncate'; cut: number }
  /** Bytes past the Length field, which RFC 2865 §3 says to ignore. */
  | { kind: 'pad'; bytes: Uint8Array }
  | { kind: 'concat'; second: PacketPlan };

export type Payload = { kind: 'packet'; packet: PacketPlan; framing: Framing } | { kind: 'random'; bytes: Uint8Array } | { kind: 'repeat' };

export interface FuzzCase {
  source: Source;
  /** Which of the source's sockets (modulo their number). */
  socket: number;
  payload: Payload;
}

export interface FuzzDatagram {
  bytes: Buffer;
  /** Why the server must not answer this, when it must not. */
  mustDrop: string | undefined;
}

export interface EncodeContext {
  secretOf(source: Source): Buffer;
  /** States the server issued and that were used since: replaying them is the point. */
  usedStates: readonly Buffer[];
}

const WRONG_SECRET = Buffer.from('not-the-shared-secret');
/** Datagrams stay below this (attributes past it are left out): the server's limit is 4096, UDP's 65507. */
const MAX_DATAGRAM = 8192;

// --- arbitraries --------------------------------------------------------------------------------------------------

/** `n` bytes repeating the four bytes of `pattern`. */
function fill(n: number, pattern: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (pattern >>> ((i & 3) * 8)) & 0xff;
  return out;
}

/**
 * Values of the lengths `length` draws, filled with a pattern fast-check draws too: drawing each byte of kilobytes of
 * values would cost milliseconds a datagram, and a decoder cares about lengths and types far more than about values.
 */
const blob = (length: fc.Arbitrary<number>): fc.Arbitrary<Uint8Array> => fc.tuple(length, fc.integer()).map(([n, pattern]) => fill(n, pattern));
const sized = (min: number, max: number) => blob(fc.integer({ min, max }));
/** Value lengths at the limits (attributes of 2, 3, 253, 254 and 255 bytes) and anywhere between. */
const anyValue = blob(fc.oneof(fc.constantFrom(0, 1, 251, 252, 253), fc.integer({ min: 0, max: 253 })));
const other = (type: fc.Arbitrary<number>, value: fc.Arbitrary<Uint8Array>): fc.Arbitrary<AttributePlan> =>
  fc.record({ kind: fc.constant('other'), type, value });
const text = (s: string) => new TextEncoder().encode(s);
/** Types for the bulk shapes: any but User-Name, User-Password and Message-Authenticator, which have cases of their own. */
const bulkType = fc.integer({ min: 0, max: 255 }).map((t) => (t === ATTR.USER_NAME || t === ATTR.USER_PASSWORD || t === ATTR.MESSAGE_AUTHENTICATOR ? ATTR.VENDOR_SPECIFIC : t));

/** `count` attributes, their types and value lengths cycling through up to four that fast-check draws. */
const repeated = (count: fc.Arbitrary<number>, type: fc.Arbitrary<number>, length: fc.Arbitrary<number>): fc.Arbitrary<AttributePlan[]> =>
  fc
    .record({ count, types: fc.array(type, { minLength: 1, maxLength: 4 }), lengths: fc.array(length, { minLength: 1, maxLength: 4 }), pattern: fc.integer() })
    .map(({ count, types, lengths, pattern }) =>
      Array.from({ length: count }, (_, i) => ({ kind: 'other' as const, type: types[i % types.length]!, value: fill(lengths[i % lengths.length]!, pattern ^ i) })),
    );

/**
 * Mostly the fuzzed users (the codes they are sent are guesses: checked, never the argon2 hash behind them), or names
 * of no user.
 */
const userName: fc.Arbitrary<AttributePlan> = fc
  .oneof(
    { weight: 6, arbitrary: fc.constantFrom(FUZZ_USERS.inline, FUZZ_USERS.codeOnly).map(text) },
    { weight: 3, arbitrary: fc.string({ maxLength: 24 }).map(text) },
    { weight: 1, arbitrary: anyValue },
  )
  .map((value) => ({ kind: 'user-name', value }));

const password: fc.Arbitrary<AttributePlan> = fc
  .oneof(
    { weight: 8, arbitrary: fc.integer({ min: 0, max: 999_999 }).map((n) => `${FUZZ_PASSWORD}${String(n).padStart(6, '0')}`) },
    { weight: 6, arbitrary: fc.string({ maxLength: 40 }) },
    // 112 to 240 bytes once hidden: over 128 is illegal
    { weight: 1, arbitrary: sized(100, 240).map((b) => Buffer.from(b).toString('latin1')) },
  )
  .map((p) => ({ kind: 'user-password', password: p }));

const rawPassword: fc.Arbitrary<AttributePlan> = blob(fc.oneof(fc.constantFrom(0, 1, 15, 17, 127, 129, 144, 253), fc.integer({ min: 0, max: 253 }))).map(
  (value) => ({ kind: 'user-password-raw', value }),
);

const state: fc.Arbitrary<AttributePlan> = fc.oneof(
  other(fc.constant(ATTR.STATE), anyValue),
  fc.nat().map((index) => ({ kind: 'replayed-state' as const, index })),
);

/** A handful of the attributes a NAS sends, and some of any type. */
const common: fc.Arbitrary<AttributePlan> = fc.oneof(
  other(fc.constant(ATTR.NAS_IDENTIFIER), fc.string({ maxLength: 24 }).map(text)),
  other(fc.constant(ATTR.CALLING_STATION_ID), sized(0, 32)),
  other(fc.constant(ATTR.NAS_IP_ADDRESS), fc.oneof(sized(4, 4), sized(0, 8))),
  other(fc.constant(ATTR.NAS_IPV6_ADDRESS), fc.oneof(sized(16, 16), sized(0, 20))),
  state,
  other(fc.constant(ATTR.PROXY_STATE), sized(0, 16)),
  other(fc.constant(ATTR.EAP_MESSAGE), anyValue),
  other(fc.integer({ min: 0, max: 255 }), anyValue),
);

/** What follows User-Name and User-Password: a few usual attributes, or one of the shapes that stress a decoder. */
const extras: fc.Arbitrary<AttributePlan[]> = fc.oneof(
  { weight: 12, arbitrary: fc.array(common, { maxLength: 4 }) },
  // many small attributes
  { weight: 1, arbitrary: repeated(fc.integer({ min: 50, max: 1000 }), bulkType, fc.integer({ min: 0, max: 4 })) },
  // 253-, 254- and 255-byte attributes, up to past the 4096-byte limit
  { weight: 1, arbitrary: repeated(fc.integer({ min: 1, max: 20 }), bulkType, fc.constantFrom(251, 252, 253)) },
  // many Proxy-States, or large ones
  { weight: 1, arbitrary: repeated(fc.integer({ min: 1, max: 400 }), fc.constant(ATTR.PROXY_STATE), fc.integer({ min: 0, max: 8 })) },
  { weight: 1, arbitrary: repeated(fc.integer({ min: 1, max: 18 }), fc.constant(ATTR.PROXY_STATE), fc.integer({ min: 200, max: 253 })) },
  // States: random, replayed, and as many maximal ones as fit
  { weight: 1, arbitrary: fc.array(state, { minLength: 1, maxLength: 3 }) },
  { weight: 1, arbitrary: repeated(fc.integer({ min: 2, max: 16 }), fc.constant(ATTR.STATE), fc.constant(253)) },
  // an EAP packet in fragments
  { weight: 1, arbitrary: repeated(fc.integer({ min: 2, max: 16 }), fc.constant(ATTR.EAP_MESSAGE), fc.integer({ min: 1, max: 253 })) },
  // a second User-Name or User-Password
  { weight: 1, arbitrary: fc.oneof(userName, password, rawPassword).map((a) => [a]) },
);

const attributes: fc.Arbitrary<AttributePlan[]> = fc
  .record({
    userName: fc.option(userName, { freq: 10, nil: undefined }),
    password: fc.option(fc.oneof({ weight: 16, arbitrary: password }, { weight: 1, arbitrary: rawPassword }), { freq: 10, nil: undefined }),
    extras,
  })
  .map((a) => [...(a.userName ? [a.userName] : []), ...(a.password ? [a.password] : []), ...a.extras]);

const position = fc.oneof({ weight: 6, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.nat() });
const messageAuthenticator: fc.Arbitrary<MessageAuthenticatorPlan> = fc.oneof(
  { weight: 12, arbitrary: fc.record({ kind: fc.constant('signed'), position }) },
  { weight: 4, arbitrary: fc.constant({ kind: 'none' }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constantFrom('wrong', 'zero', 'twice'), position }) },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('bad-length'), valueLength: fc.integer({ min: 0, max: 40 }).filter((n) => n !== 16), position }),
  },
);

export const packetPlan: fc.Arbitrary<PacketPlan> = fc.record(
  {
    code: fc.oneof(
      { weight: 24, arbitrary: fc.constant(CODE.ACCESS_REQUEST) },
      { weight: 3, arbitrary: fc.constant(CODE.STATUS_SERVER) },
      { weight: 1, arbitrary: fc.constant(CODE.ACCOUNTING_REQUEST) },
      { weight: 1, arbitrary: fc.integer({ min: 0, max: 255 }) },
    ),
    // a few identifiers over and over, from the same ports
    identifier: fc.oneof({ weight: 3, arbitrary: fc.integer({ min: 0, max: 255 }) }, { weight: 1, arbitrary: fc.constantFrom(0, 1, 255) }),
    authenticator: fc.tuple(fc.integer(), fc.integer(), fc.integer(), fc.integer()).map((words) => {
      const out = Buffer.alloc(16);
      words.forEach((w, i) => out.writeInt32BE(w, i * 4));
      return new Uint8Array(out);
    }),
    attributes,
    messageAuthenticator,
    wrongSecret: fc.oneof({ weight: 19, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
    trailer: fc.oneof(
      { weight: 14, arbitrary: fc.constant(undefined) },
      {
        weight: 1,
        arbitrary: fc.record({ type: fc.integer({ min: 0, max: 255 }), declared: fc.integer({ min: 0, max: 255 }), missing: fc.integer({ min: 1, max: 255 }) }),
      },
    ),
  },
);

const framing: fc.Arbitrary<Framing> = fc.oneof(
  { weight: 14, arbitrary: fc.constant({ kind: 'exact' }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('length-field'), value: fc.constantFrom(0, 1, 19, 20, 21, 4095, 4096, 4097, 65535) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('length-delta'), delta: fc.integer({ min: -64, max: 64 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('truncate'), cut: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('pad'), bytes: sized(1, 64) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('concat'), second: packetPlan }) },
);

const payload: fc.Arbitrary<Payload> = fc.oneof(
  { weight: 17, arbitrary: fc.record({ kind: fc.constant('packet'), packet: packetPlan, framing }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('random'), bytes: fc.oneof(fc.uint8Array({ maxLength: 40 }), sized(20, 4200)) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'repeat' }) },
);

export const fuzzCase: fc.Arbitrary<FuzzCase> = fc.record({
  source: fc.oneof(
    { weight: 10, arbitrary: fc.constant('ma-required') },
    { weight: 10, arbitrary: fc.constant('ma-optional') },
    { weight: 1, arbitrary: fc.constant('unknown') },
  ),
  socket: fc.nat(),
  payload,
});

// --- encoding -----------------------------------------------------------------------------------------------------

function attribute(type: number, value: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(value.length + 2);
  out[0] = type;
  out[1] = value.length + 2;
  out.set(value, 2);
  return out;
}

function encodeAttribute(plan: AttributePlan, authenticator: Buffer, secret: Buffer, context: EncodeContext): Buffer {
  switch (plan.kind) {
    case 'user-name':
      return attribute(ATTR.USER_NAME, plan.value);
    case 'user-password': {
      const clear = Buffer.from(plan.password).subarray(0, 240);
      return attribute(ATTR.USER_PASSWORD, encodeUserPassword(clear, authenticator, secret));
    }
    case 'user-password-raw':
      return attribute(ATTR.USER_PASSWORD, plan.value);
    case 'replayed-state': {
      const states = context.usedStates;
      return attribute(ATTR.STATE, states.length > 0 ? states[plan.index % states.length]! : Buffer.alloc(16));
    }
    case 'other':
      return attribute(plan.type, plan.value);
  }
}

/**
 * The packet with its Length field exact, and why the server must drop it for what it holds (none when an answer is
 * allowed). Message-Authenticators are computed over the whole packet, after every other byte is in place.
 */
export function encodePacket(plan: PacketPlan, clientSecret: Buffer, context: EncodeContext): FuzzDatagram {
  const authenticator = Buffer.from(plan.authenticator);
  const secret = plan.wrongSecret ? WRONG_SECRET : clientSecret;
  const encoded: Buffer[] = [];
  let size = 20;
  for (const a of plan.attributes) {
    const one = encodeAttribute(a, authenticator, secret, context);
    if (size + one.length > MAX_DATAGRAM - 300) break;
    encoded.push(one);
    size += one.length;
  }
  const ma = plan.messageAuthenticator;
  const maAttributes =
    ma.kind === 'none' ? [] : ma.kind === 'bad-length' ? [attribute(ATTR.MESSAGE_AUTHENTICATOR, Buffer.alloc(ma.valueLength))] : [attribute(ATTR.MESSAGE_AUTHENTICATOR, Buffer.alloc(16))];
  if (ma.kind === 'twice') maAttributes.push(attribute(ATTR.MESSAGE_AUTHENTICATOR, Buffer.alloc(16)));
  const at = ma.kind === 'none' || ma.position === 0 ? 0 : ma.position % (encoded.length + 1);
  const all = [...encoded.slice(0, at), ...maAttributes, ...encoded.slice(at)];
  if (plan.trailer) {
    const { type, missing } = plan.trailer;
    const declared = plan.trailer.declared === 2 ? 3 : plan.trailer.declared;
    all.push(Buffer.concat([Buffer.from([type, declared]), Buffer.alloc(Math.max(0, declared - 2 - missing))]));
  }
  const packet = Buffer.concat([Buffer.from([plan.code, plan.identifier, 0, 0]), authenticator, ...all]);
  packet.writeUInt16BE(Math.min(packet.length, 0xffff), 2);

  // where the Message-Authenticator values are, to sign them
  const maOffsets: number[] = [];
  for (let i = 0, offset = 20; i < all.length; offset += all[i]!.length, i++) {
    if (all[i]![0] === ATTR.MESSAGE_AUTHENTICATOR && maAttributes.includes(all[i]!)) maOffsets.push(offset + 2);
  }
  if (ma.kind === 'signed' || ma.kind === 'wrong' || ma.kind === 'twice') {
    const mac = createHmac('md5', secret).update(packet).digest();
    for (const o of maOffsets) mac.copy(packet, o);
    if (ma.kind === 'wrong') packet[maOffsets[0]!]! ^= 0x01;
  }
  return { bytes: packet, mustDrop: contentDropCause(plan, all, packet.length) };
}

/** The rules of RFC 2865 §3/§5, RFC 3579 §3.2 and RFC 5997 that the content of a packet alone decides. */
function contentDropCause(plan: PacketPlan, all: readonly Buffer[], length: number): string | undefined {
  if (length > 4096) return `Length ${length} is above 4096`;
  if (plan.trailer) return `its last attribute has length ${all.at(-1)![1]} with ${all.at(-1)!.length - 2} bytes of value left`;
  const count = (type: number) => all.filter((a) => a[0] === type).length;
  if (count(ATTR.USER_NAME) > 1) return 'two User-Names';
  if (count(ATTR.USER_PASSWORD) > 1) return 'two User-Passwords';
  for (const a of all) {
    const n = a.length - 2;
    if (a[0] === ATTR.USER_PASSWORD && (n < 16 || n > 128 || n % 16 !== 0)) return `a User-Password of ${n} bytes`;
    if (a[0] === ATTR.MESSAGE_AUTHENTICATOR && n !== 16) return `a Message-Authenticator of ${n} bytes`;
  }
  const mas = count(ATTR.MESSAGE_AUTHENTICATOR);
  if (mas > 1) return 'two Message-Authenticators';
  if (mas === 1 && !(plan.messageAuthenticator.kind === 'signed' && !plan.wrongSecret)) return 'a Message-Authenticator that does not verify';
  if (mas === 0 && plan.code === CODE.STATUS_SERVER) return 'a Status-Server without Message-Authenticator';
  return undefined;
}

/** What every datagram from `source` must meet, whatever it holds. */
function sourceDropCause(bytes: Buffer, source: Source): string | undefined {
  if (source === 'unknown') return 'it comes from no client';
  if (bytes.length < 20) return `${bytes.length} bytes is shorter than a header`;
  if (bytes[0] !== CODE.ACCESS_REQUEST && bytes[0] !== CODE.STATUS_SERVER) return `code ${bytes[0]} is not served on this port`;
  return undefined;
}

/** The BlastRADIUS rules for a client that must send a Message-Authenticator, and for Proxy-State. */
function clientDropCause(packet: Buffer, source: Source): string | undefined {
  if (packet[0] !== CODE.ACCESS_REQUEST) return undefined;
  let hasMa = false;
  let hasProxyState = false;
  for (let o = 20; o + 1 < packet.length && packet[o + 1]! >= 2; o += packet[o + 1]!) {
    if (packet[o] === ATTR.MESSAGE_AUTHENTICATOR) hasMa = true;
    if (packet[o] === ATTR.PROXY_STATE) hasProxyState = true;
  }
  if (hasMa) return undefined;
  if (source === 'ma-required') return 'an Access-Request without Message-Authenticator from a client that must send one';
  if (hasProxyState) return 'Proxy-State without Message-Authenticator';
  return undefined;
}

/** A payload (other than "repeat") as the bytes to send, with the reason the server must drop them, if any. */
export function encodePayload(payload: Exclude<Payload, { kind: 'repeat' }>, source: Source, context: EncodeContext): FuzzDatagram {
  if (payload.kind === 'random') {
    const bytes = Buffer.from(payload.bytes);
    return { bytes, mustDrop: sourceDropCause(bytes, source) };
  }
  const secret = context.secretOf(source);
  const first = encodePacket(payload.packet, secret, context);
  const packet = first.bytes;
  let bytes = packet;
  let mustDrop = first.mustDrop ?? clientDropCause(packet, source);
  const framing = payload.framing;
  switch (framing.kind) {
    case 'exact':
      break;
    case 'pad':
      bytes = Buffer.concat([packet, framing.bytes]);
      break;
    case 'concat':
      bytes = Buffer.concat([packet, encodePacket(framing.second, secret, context).bytes]);
      break;
    case 'truncate': {
      bytes = packet.subarray(0, framing.cut % packet.length);
      mustDrop = `${bytes.length} bytes arrived of the ${packet.length} its Length field gives`;
      break;
    }
    case 'length-field':
    case 'length-delta': {
      const value = framing.kind === 'length-field' ? framing.value : Math.min(0xffff, Math.max(0, packet.length + framing.delta));
      bytes = Buffer.from(packet);
      bytes.writeUInt16BE(value, 2);
      if (value < 20 || value > 4096) mustDrop = `Length field ${value} is outside 20-4096`;
      else if (value > bytes.length) mustDrop = `Length field ${value} but ${bytes.length} bytes`;
      // a shorter Length field makes a packet of what it covers: whether that one is to be answered is not known here
      else if (value < packet.length) mustDrop = undefined;
      break;
    }
  }
  return { bytes, mustDrop: sourceDropCause(bytes, source) ?? mustDrop };
}
