import dgram from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import radius from 'radius';
import { verifyMessageAuthenticator } from '../src/radius/authenticators.js';
import { ATTR, CODE } from '../src/radius/constants.js';
import { parseRequest, type RadiusRequest } from '../src/radius/packet.js';
import type { ClientRecord } from '@otpgate/shared';
import { ClientTable } from '../src/radius/client-table.js';
import { RadiusServer } from '../src/radius/server.js';
import { Metrics } from '../src/metrics.js';
import { createLogger } from '../src/logger.js';
import { accessRequest, attr, packet, prng, signRequest } from './radius-wire.js';
import { errorMessage } from '@otpgate/shared';

const SECRET = 'fuzzing-secret-42';

/** Requests that parse: the seeds the mutations start from. */
function seeds(random: () => number): Buffer[] {
  const auth = () => Buffer.from(Array.from({ length: 16 }, () => Math.floor(random() * 256)));
  const out: Buffer[] = [];
  for (let i = 0; i < 8; i++) {
    out.push(
      accessRequest({
        secret: SECRET, identifier: i, authenticator: auth(), username: `user${i}`, password: 'p'.repeat(i * 15 + 1),
        extra: i % 2 ? [attr(ATTR.PROXY_STATE, 'ps-1'), attr(ATTR.STATE, auth()), attr(ATTR.PROXY_STATE, 'ps-2')] : [attr(ATTR.NAS_IPV6_ADDRESS, auth())],
      }),
    );
  }
  // Message-Authenticator last, and none at all
  const last = packet(1, 50, auth(), [attr(ATTR.USER_NAME, 'x'), attr(ATTR.NAS_IDENTIFIER, 'nas'), attr(ATTR.MESSAGE_AUTHENTICATOR, Buffer.alloc(16))]);
  out.push(signRequest(last, last.length - 16, SECRET));
  out.push(packet(1, 51, auth(), [attr(ATTR.USER_NAME, 'x'), attr(ATTR.CHAP_PASSWORD, Buffer.alloc(17, 1)), attr(ATTR.CALLING_STATION_ID, 'aa-bb')]));
  out.push(signRequest(packet(CODE.STATUS_SERVER, 52, auth(), [attr(ATTR.MESSAGE_AUTHENTICATOR, Buffer.alloc(16))]), 22, SECRET));
  out.push(packet(1, 53, auth(), [attr(ATTR.VENDOR_SPECIFIC, Buffer.from([0, 0, 0x30, 0x44, 1, 5, 0x61, 0x62, 0x63])), attr(ATTR.EAP_MESSAGE, Buffer.alloc(40, 2))]));
  for (const s of out) expect(parseRequest(s).ok).toBe(true);
  return out;
}

function randomBytesFrom(random: () => number, n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(random() * 256);
  return b;
}

function randomDatagram(random: () => number): Buffer {
  const r = random();
  const n = r < 0.1 ? Math.floor(random() * 24) : r < 0.9 ? 20 + Math.floor(random() * 300) : Math.floor(random() * 4300);
  const b = randomBytesFrom(random, n);
  // half of them get a believable header, so the attribute walk is reached
  if (n >= 20 && random() < 0.5) {
    b[0] = [1, 1, 1, 12, 2, 4][Math.floor(random() * 6)]!;
    b.writeUInt16BE(random() < 0.8 ? Math.min(n, 4096) : Math.floor(random() * 65536), 2);
  }
  return b;
}

/** Offsets of the attributes of a well-formed packet. */
function attributeOffsets(p: Buffer): number[] {
  const out: number[] = [];
  const length = p.readUInt16BE(2);
  for (let o = 20; o + 1 < length && p[o + 1]! >= 2; o += p[o + 1]!) out.push(o);
  return out;
}

function mutate(seed: Buffer, random: () => number): Buffer {
  let p = Buffer.from(seed);
  const rounds = 1 + Math.floor(random() * 3);
  for (let k = 0; k < rounds; k++) {
    const offsets = p.length >= 20 ? attributeOffsets(p) : [];
    const pickAttr = () => offsets[Math.floor(random() * offsets.length)];
    switch (Math.floor(random() * 9)) {
      case 0: // bit flips
        for (let i = 0, n = 1 + Math.floor(random() * 8); i < n && p.length > 0; i++) p[Math.floor(random() * p.length)]! ^= 1 << Math.floor(random() * 8);
        break;
      case 1: // truncation
        p = p.subarray(0, Math.floor(random() * p.length));
        break;
      case 2: // padding or junk after the packet
        p = Buffer.concat([p, randomBytesFrom(random, Math.floor(random() * 64))]);
        break;
      case 3: // Length field: anything
        if (p.length >= 4) p.writeUInt16BE(Math.floor(random() * 65536), 2);
        break;
      case 4: // Length field: off by a little
        if (p.length >= 4) p.writeUInt16BE(Math.max(0, Math.min(65535, p.readUInt16BE(2) + Math.floor(random() * 41) - 20)), 2);
        break;
      case 5: { // an attribute length: anything
        const o = pickAttr();
        if (o !== undefined) p[o + 1] = Math.floor(random() * 256);
        break;
      }
      case 6: { // an attribute length: off by one or two
        const o = pickAttr();
        if (o !== undefined) p[o + 1] = (p[o + 1]! + [-2, -1, 1, 2][Math.floor(random() * 4)]! + 256) % 256;
        break;
      }
      case 7: { // an attribute repeated (a second Message-Authenticator, User-Password...)
        const o = pickAttr();
        if (o !== undefined) {
          p = Buffer.concat([p, p.subarray(o, o + p[o + 1]!)]);
          p.writeUInt16BE(Math.min(p.length, 65535), 2);
        }
        break;
      }
      case 8: { // an attribute type changed (e.g. into a Message-Authenticator or User-Password)
        const o = pickAttr();
        if (o !== undefined) p[o] = [ATTR.MESSAGE_AUTHENTICATOR, ATTR.USER_PASSWORD, ATTR.USER_NAME, ATTR.PROXY_STATE, Math.floor(random() * 256)][Math.floor(random() * 5)]!;
        break;
      }
    }
  }
  return p;
}

/** The rules of RFC 2865 §3/§5 and RFC 3579 §3.2 as the brief states them, written independently of packet.ts. */
function wellFormed(d: Buffer): boolean {
  if (d.length < 20) return false;
  const length = d.readUInt16BE(2);
  if (length < 20 || length > 4096 || length > d.length) return false;
  const count = new Map<number, number>();
  let o = 20;
  while (o < length) {
    if (o + 2 > length) return false;
    const type = d[o]!;
    const len = d[o + 1]!;
    if (len < 2 || o + len > length) return false;
    if (type === ATTR.MESSAGE_AUTHENTICATOR && len !== 18) return false;
    if (type === ATTR.USER_PASSWORD && (len - 2 < 16 || len - 2 > 128 || (len - 2) % 16 !== 0)) return false;
    count.set(type, (count.get(type) ?? 0) + 1);
    o += len;
  }
  return [ATTR.MESSAGE_AUTHENTICATOR, ATTR.USER_NAME, ATTR.USER_PASSWORD].every((t) => (count.get(t) ?? 0) <= 1);
}

/** Every view the parser hands out must lie inside the packet, right after its own attribute header. */
function inconsistency(d: Buffer, r: RadiusRequest): string | undefined {
  const length = d.readUInt16BE(2);
  const p = r.packet;
  if (p.length !== length || p.buffer !== d.buffer || p.byteOffset !== d.byteOffset) return 'packet is not the first Length bytes of the datagram';
  if (r.code !== d[0] || r.identifier !== d[1] || !r.authenticator.equals(d.subarray(4, 20))) return 'header fields';
  let o = 20;
  const starts = new Set<number>();
  while (o < length) {
    starts.add(o);
    o += p[o + 1]!;
  }
  if (o !== length) return `attributes end at ${o}, Length is ${length}`;
  const valueAt = (v: Buffer | undefined, type: number): string | undefined => {
    if (v === undefined) return undefined;
    const start = v.byteOffset - p.byteOffset;
    if (v.buffer !== p.buffer || !starts.has(start - 2) || p[start - 2] !== type || p[start - 1] !== v.length + 2 || start + v.length > length) {
      return `attribute ${type} view at ${start} is not its value`;
    }
    return undefined;
  };
  const fields: Array<[Buffer | undefined, number]> = [
    [r.userName, ATTR.USER_NAME], [r.userPassword, ATTR.USER_PASSWORD], [r.state, ATTR.STATE], [r.nasIpAddress, ATTR.NAS_IP_ADDRESS],
    [r.nasIpv6Address, ATTR.NAS_IPV6_ADDRESS], [r.nasIdentifier, ATTR.NAS_IDENTIFIER], [r.callingStationId, ATTR.CALLING_STATION_ID],
    [r.calledStationId, ATTR.CALLED_STATION_ID],
  ];
  for (const [v, type] of fields) {
    const problem = valueAt(v, type);
    if (problem) return problem;
  }
  if (r.userPassword && (r.userPassword.length < 16 || r.userPassword.length > 128 || r.userPassword.length % 16 !== 0)) return 'User-Password length';
  const ma = r.messageAuthenticatorOffset;
  if (ma !== -1 && (!starts.has(ma - 2) || p[ma - 2] !== ATTR.MESSAGE_AUTHENTICATOR || p[ma - 1] !== 18 || ma + 16 > length)) return `Message-Authenticator offset ${ma}`;
  for (const ps of r.proxyStates) {
    const start = ps.byteOffset - p.byteOffset;
    if (!starts.has(start) || ps[0] !== ATTR.PROXY_STATE || ps[1] !== ps.length) return `Proxy-State at ${start}`;
  }
  const expectedProxyStates = [...starts].filter((s) => p[s] === ATTR.PROXY_STATE).length;
  if (r.proxyStates.length !== expectedProxyStates) return 'Proxy-State count';
  return undefined;
}

describe('parseRequest under fuzzing', () => {
  function run(inputs: Iterable<Buffer>): { accepted: number; rejected: number; problems: string[] } {
    let accepted = 0;
    let rejected = 0;
    const problems: string[] = [];
    for (const d of inputs) {
      let result;
      try {
        result = parseRequest(d);
      } catch (err) {
        problems.push(`threw ${errorMessage(err)} on ${d.toString('hex')}`);
        continue;
      }
      if (result.ok !== wellFormed(d)) problems.push(`${result.ok ? 'accepted' : `refused (${result.ok ? '' : result.reason})`} ${d.toString('hex')}`);
      if (!result.ok) {
        rejected++;
        continue;
      }
      accepted++;
      const problem = inconsistency(d, result.request);
      if (problem) problems.push(`${problem}: ${d.toString('hex')}`);
    }
    return { accepted, rejected, problems: problems.slice(0, 5) };
  }

  it('50,000 random datagrams: never throws, accepts exactly the well-formed ones, with consistent offsets', () => {
    const random = prng(20240709);
    const inputs = Array.from({ length: 50_000 }, () => randomDatagram(random));
    const { accepted, rejected, problems } = run(inputs);
    expect(problems).toEqual([]);
    expect(rejected).toBeGreaterThan(40_000);
    expect(accepted).toBeGreaterThan(100); // the plausible headers do reach the attribute walk
  });

  it('50,000 mutations of valid requests: the same', () => {
    const random = prng(3579);
    const base = seeds(random);
    const inputs = Array.from({ length: 50_000 }, () => mutate(base[Math.floor(random() * base.length)]!, random));
    const { accepted, rejected, problems } = run(inputs);
    expect(problems).toEqual([]);
    expect(accepted).toBeGreaterThan(5_000);
    expect(rejected).toBeGreaterThan(5_000);
  });
});

describe('RadiusServer under a flood of junk', () => {
  const metrics = new Metrics({ processMetrics: false });
  const record: ClientRecord = {
    id: 1, name: 'fuzzer', address: '127.0.0.1', secret: SECRET, require_message_authenticator: true, auth_mode: null,
    on_backend_error: 'reject',
        backends: null,
        single_factor: false, description: '',
  };
  const clients = ClientTable.fromRecords([record], () => {
    throw new Error('client record refused');
  });
  let handled = 0;
  let unauthenticated = 0;
  const server = new RadiusServer({
    listen: [{ host: '127.0.0.1', port: 0, family: 4 }],
    receiveBufferBytes: 4 * 1024 * 1024,
    duplicateCacheSeconds: 5,
    unknownClientLogIntervalSeconds: 60,
    clients: () => clients,
    handler: async (request, client) => {
      handled++;
      // the client must send a Message-Authenticator: nothing without a good one may reach the pipeline
      const ma = request.messageAuthenticatorOffset;
      if (ma < 0 || !verifyMessageAuthenticator(request.packet, ma, client.secret)) unauthenticated++;
      return { code: CODE.ACCESS_ACCEPT, attributes: [] };
    },
    logger: createLogger('silent', 'fuzz'),
    metrics,
  });
  let port = 0;

  beforeAll(async () => {
    await server.start();
    port = server.addresses()[0]!.port;
  });
  afterAll(() => server.stop());

  async function sum(counter: { get(): Promise<{ values: Array<{ value: number; labels: Record<string, string | number | undefined> }> }> }, keep: (labels: Record<string, string | number | undefined>) => boolean = () => true): Promise<number> {
    return (await counter.get()).values.filter((v) => keep(v.labels)).reduce((s, v) => s + v.value, 0);
  }

  /** Datagrams the server has finished with: each ends as exactly one drop, answer or duplicate answer. */
  async function seen(): Promise<number> {
    return (await sum(metrics.dropped)) + (await sum(metrics.requests, (l) => l.result !== 'drop')) + (await sum(metrics.duplicates));
  }

  async function exchange(socket: dgram.Socket, datagram: Buffer): Promise<Buffer | undefined> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(undefined), 2000);
      socket.once('message', (m) => {
        clearTimeout(timer);
        resolve(m);
      });
      socket.send(datagram, port, '127.0.0.1');
    });
  }

  it('drops 20,000 junk datagrams without an internal error, counting the malformed ones, and still answers a valid request', async () => {
    const random = prng(1812);
    const base = seeds(random);
    const blaster = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => blaster.bind(0, '127.0.0.1', resolve));
    let answers = 0;
    blaster.on('message', () => answers++);

    let sent = 0;
    let expectedMalformed = 0;
    const before = await seen();
    for (let batch = 0; batch < 200; batch++) {
      const datagrams = Array.from({ length: 100 }, () => (random() < 0.5 ? randomDatagram(random) : mutate(base[Math.floor(random() * base.length)]!, random)));
      for (const d of datagrams) if (!parseRequest(d).ok) expectedMalformed++;
      await Promise.all(datagrams.map((d) => new Promise<void>((resolve) => blaster.send(d, port, '127.0.0.1', () => resolve()))));
      sent += datagrams.length;
      // let the server catch up, so the kernel buffer never overflows (a lost datagram is not what is tested here)
      for (let wait = 0; wait < 100 && (await seen()) - before < sent; wait++) await new Promise((r) => setTimeout(r, 2));
    }
    blaster.close();
    const lost = sent - ((await seen()) - before);
    const malformed = await sum(metrics.dropped, (l) => l.cause === 'malformed');

    expect(sent).toBe(20_000);
    expect(lost).toBeLessThanOrEqual(sent * 0.02);
    expect(await sum(metrics.dropped, (l) => l.cause === 'internal-error')).toBe(0);
    expect(malformed).toBeGreaterThan(0);
    expect(malformed).toBeLessThanOrEqual(expectedMalformed);
    expect(malformed).toBeGreaterThanOrEqual(expectedMalformed - lost);
    expect(await metrics.registry.getSingleMetricAsString('otpgate_radius_dropped_total')).toMatch(
      new RegExp(`otpgate_radius_dropped_total\\{cause="malformed"\\} ${malformed}\\b`),
    );
    // the handler only ever saw requests that parsed and carried a good Message-Authenticator
    expect(unauthenticated).toBe(0);
    expect(await sum(metrics.dropped, (l) => l.cause === 'bad-message-authenticator')).toBeGreaterThan(0);
    expect(handled).toBe(await sum(metrics.requests, (l) => l.code === 'access-request' && l.result === 'accept'));
    expect(answers).toBeGreaterThan(0);

    const client = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => client.bind(0, '127.0.0.1', resolve));
    try {
      const request = accessRequest({ secret: SECRET, identifier: 200, username: 'after-the-storm' });
      const response = await exchange(client, request);
      expect(response).toBeDefined();
      expect(response![0]).toBe(CODE.ACCESS_ACCEPT);
      expect(response![1]).toBe(200);
      expect(radius.verify_response({ response: response!, request, secret: SECRET })).toBe(true);
    } finally {
      client.close();
    }
  });
});
