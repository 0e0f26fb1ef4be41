import dgram from 'node:dgram';
import net from 'node:net';
import { appendFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestNode } from './helpers/test-node.js';
import { papRequest, radclient } from './helpers/radclient.js';
import { awaitFreshStep, totpCode, wrongCode } from './helpers/otp.js';
import { eventually } from './helpers/eventually.js';

const SECRET = 'syslog-client-secret';
const LOCAL4 = 20;

/** An RFC 5424 message: <PRI>VERSION TIMESTAMP HOSTNAME APP-NAME PROCID MSGID STRUCTURED-DATA MSG */
interface Rfc5424 {
  facility: number;
  severity: number;
  version: number;
  timestamp: string;
  hostname: string;
  appName: string;
  procId: string;
  msgId: string;
  structuredData: string;
  msg: Record<string, unknown>;
}

function parseRfc5424(text: string): Rfc5424 {
  const m = /^<(\d{1,3})>(\d) (\S+) (\S+) (\S+) (\S+) (\S+) (-|\[.*?\]) (?:\uFEFF)?(.*)$/s.exec(text);
  if (!m) throw new Error(`not RFC 5424: ${text.slice(0, 120)}`);
  const pri = Number(m[1]);
  return {
    facility: pri >> 3,
    severity: pri & 7,
    version: Number(m[2]),
    timestamp: m[3]!,
    hostname: m[4]!,
    appName: m[5]!,
    procId: m[6]!,
    msgId: m[7]!,
    structuredData: m[8]!,
    msg: JSON.parse(m[9]!) as Record<string, unknown>,
  };
}

/** A collector on loopback that keeps every message, and writes it to `capture` (the secrets scan reads it). */
class Collector {
  readonly messages: Rfc5424[] = [];
  /** Set once the node's folder exists: DIR/syslog.log, beside its serve.log. */
  capture: string | undefined;
  protected receive(text: string): void {
    if (this.capture) appendFileSync(this.capture, `${text}\n`);
    this.messages.push(parseRfc5424(text));
  }
  find(predicate: (m: Rfc5424) => boolean): Promise<Rfc5424> {
    return eventually('a syslog message', async () => this.messages.find(predicate), 10_000, 50);
  }
}

class UdpCollector extends Collector {
  private readonly socket = dgram.createSocket('udp4');
  async listen(): Promise<number> {
    this.socket.on('message', (m) => this.receive(m.toString('utf8')));
    await new Promise<void>((r) => this.socket.bind(0, '127.0.0.1', r));
    return this.socket.address().port;
  }
  close(): void {
    this.socket.close();
  }
}

/** Octet-counted framing (RFC 6587) over TCP. */
class TcpCollector extends Collector {
  private readonly server = net.createServer((s) => {
    let buffer = Buffer.alloc(0);
    s.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      for (;;) {
        const sp = buffer.indexOf(0x20);
        const len = Number(buffer.subarray(0, sp).toString());
        if (sp < 0 || buffer.length < sp + 1 + len) return;
        this.receive(buffer.subarray(sp + 1, sp + 1 + len).toString('utf8'));
        buffer = buffer.subarray(sp + 1 + len);
      }
    });
    s.on('error', () => undefined);
  });
  async listen(): Promise<number> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    return (this.server.address() as net.AddressInfo).port;
  }
  close(): Promise<void> {
    return new Promise((r) => this.server.close(() => r()));
  }
}

describe('syslog (RFC 5424) next to the JSON log', () => {
  let node: TestNode;
  let udp: UdpCollector;
  let secret = '';

  beforeAll(async () => {
    udp = new UdpCollector();
    const port = await udp.listen();
    node = await TestNode.create('syslog-udp', {
      log: `  syslog:\n    host: 127.0.0.1\n    port: ${port}\n    protocol: udp\n    facility: local4\n    app_name: otpgate-e2e\n`,
    });
    udp.capture = join(node.dir, 'syslog.log');
    await node.addClient('local', '127.0.0.1', SECRET);
    secret = await node.addUserWithToken('alice', 'alice-password');
    await node.start();
  });
  afterAll(async () => {
    await node?.stop();
    udp?.close();
  });

  it('sends each authentication as an RFC 5424 datagram, MSGID "auth", the JSON line as MSG', async () => {
    await awaitFreshStep();
    expect((await radclient(node.target, SECRET, papRequest('alice', `alice-password${totpCode(secret)}`))).code).toBe('Access-Accept');
    expect((await radclient(node.target, SECRET, papRequest('alice', `alice-password${wrongCode(secret)}`))).code).toBe('Access-Reject');
    const accept = await udp.find((m) => m.msgId === 'auth' && m.msg.result === 'accept');
    const reject = await udp.find((m) => m.msgId === 'auth' && m.msg.result === 'reject');
    for (const m of [accept, reject]) {
      expect(m).toMatchObject({ version: 1, facility: LOCAL4, hostname: hostname(), appName: 'otpgate-e2e', structuredData: '-' });
      expect(m.procId).toMatch(/^\d+$/);
      expect(new Date(m.timestamp).toISOString()).toBe(m.timestamp);
      expect(m.msg).toMatchObject({ event: 'auth', user: 'alice', client: 'local', node: 'syslog-udp' });
    }
    expect(accept.severity).toBe(6); // informational
    expect(reject.msg.reason).toBe('bad-code');
    // the same line as on stdout
    const onStdout = node.authLines().find((l) => l.result === 'accept')!;
    expect(accept.msg).toEqual(onStdout);
  });

  it('carries the node\'s warnings at their severity, and the CLI\'s admin actions', async () => {
    await node.cliOk('user', 'add', 'bob', '--no-password');
    const admin = await udp.find((m) => m.msgId === 'admin' && m.msg.target === 'bob');
    expect(admin.msg).toMatchObject({ event: 'admin', action: 'user.add', actor: expect.any(String) });
    const fromServer = udp.messages.find((m) => m.msgId === 'auth')!;
    expect(admin.procId).not.toBe(fromServer.procId); // sent by the CLI process, not the server
    const raw = await radclient(node.target, SECRET, papRequest('alice', 'x123456', [], false), { retries: 1, timeoutSeconds: 1 });
    expect(raw.code).toBe('no-reply');
    const drop = await udp.find((m) => m.msgId === 'radius-drop');
    expect(drop.severity).toBe(4); // warning
  });
});

describe('syslog over TCP with octet counting', () => {
  it('delivers the node\'s lines framed per RFC 6587', async () => {
    const tcp = new TcpCollector();
    const port = await tcp.listen();
    const node = await TestNode.create('syslog-tcp', { log: `  syslog:\n    host: 127.0.0.1\n    port: ${port}\n    protocol: tcp\n` });
    tcp.capture = join(node.dir, 'syslog.log');
    try {
      await node.start();
      const started = await tcp.find((m) => m.msg.msg === 'otpgate node started');
      expect(started).toMatchObject({ version: 1, facility: 4, severity: 6, appName: 'otpgate', msgId: '-' });
    } finally {
      await node.stop();
      await tcp.close();
    }
  });
});
