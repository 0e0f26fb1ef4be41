import dgram from 'node:dgram';
import net from 'node:net';
import tls from 'node:tls';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, hostname } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MAX_SYSLOG_MESSAGE_BYTES, formatSyslogMessage, octetCounted, truncateUtf8 } from '../src/log/syslog-format.js';
import { SyslogTransport, type SyslogStatus } from '../src/log/syslog-transport.js';
import { parseNodeConfig, type SyslogConfig } from '@otpgate/shared';
import { createTestCa } from './helpers/tls-certs.js';

const HEADER = { facility: 'auth', hostname: 'otp1.example.net', appName: 'otpgate', procId: '4242' } as const;
/** <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID STRUCTURED-DATA MSG */
const RFC5424 = /^<(\d{1,3})>1 (\S+) (\S+) (\S+) (\S+) (\S+) (-) (.*)$/s;

function syslogConfig(yaml: string): SyslogConfig {
  return parseNodeConfig(`log:\n  syslog:\n${yaml}`, 'test.yaml', '/etc/otpgate').log.syslog!;
}

describe('RFC 5424 formatting', () => {
  it('makes a header from the pino line: PRI from facility and level, its time, event as MSGID, the JSON as MSG', () => {
    const line = '{"level":"warn","time":"2025-03-01T10:20:30.123Z","node":"otp1","event":"auth","user":"alice","msg":"reject"}';
    const m = RFC5424.exec(formatSyslogMessage(line, HEADER).toString('utf8'));
    expect(m).not.toBeNull();
    expect(Number(m![1])).toBe(4 * 8 + 4); // auth (4), warning (4)
    expect(m!.slice(2, 7)).toEqual(['2025-03-01T10:20:30.123Z', 'otp1.example.net', 'otpgate', '4242', 'auth']);
    expect(JSON.parse(m![8]!)).toMatchObject({ user: 'alice', event: 'auth' });
  });

  it('maps levels to severities and a line without event to MSGID "-"', () => {
    const pri = (level: string) => Number(/^<(\d+)>/.exec(formatSyslogMessage(`{"level":"${level}","msg":"x"}`, { ...HEADER, facility: 'local3' }).toString())![1]);
    expect([pri('fatal'), pri('error'), pri('warn'), pri('info'), pri('debug'), pri('trace')]).toEqual([19 * 8 + 2, 19 * 8 + 3, 19 * 8 + 4, 19 * 8 + 6, 19 * 8 + 7, 19 * 8 + 7]);
    expect(RFC5424.exec(formatSyslogMessage('{"level":"info","msg":"x"}', HEADER).toString())![6]).toBe('-');
  });

  it('keeps header fields printable and bounded, whatever the log line holds', () => {
    const line = JSON.stringify({ level: 'info', time: 'yesterday', event: 'a b\u00e9c'.repeat(20) });
    const m = RFC5424.exec(formatSyslogMessage(line, { ...HEADER, hostname: 'bad host' }).toString('utf8'))!;
    expect(m[2]).toMatch(/^\d{4}-\d\d-\d\dT/); // an unusable time is replaced by now
    expect(m[3]).toBe('badhost');
    expect(m[6]).toMatch(/^[\x21-\x7e]{1,32}$/);
  });

  it('marks a non-ASCII message with the UTF-8 BOM, and never splits a character when cutting', () => {
    const msg = formatSyslogMessage('{"level":"info","user":"j\u00fcrgen"}', HEADER);
    const at = msg.indexOf(Buffer.from('{'));
    expect([...msg.subarray(at - 3, at)]).toEqual([0xef, 0xbb, 0xbf]);
    const long = formatSyslogMessage(JSON.stringify({ level: 'info', text: '\u00e9'.repeat(10_000) }), HEADER);
    expect(long.length).toBeLessThanOrEqual(MAX_SYSLOG_MESSAGE_BYTES);
    expect(() => new TextDecoder('utf-8', { fatal: true }).decode(long)).not.toThrow();
    expect(truncateUtf8(Buffer.from('a\u00e9'), 2).toString()).toBe('a');
  });

  it('frames with octet counting for TCP and TLS (RFC 6587)', () => {
    expect(octetCounted(Buffer.from('<14>1 - - - - - - hi')).toString()).toBe('20 <14>1 - - - - - - hi');
  });

  it('takes config defaults by protocol', () => {
    expect(syslogConfig('    host: 192.0.2.5\n')).toEqual({ host: '192.0.2.5', port: 514, protocol: 'udp', facility: 'auth', app_name: 'otpgate' });
    expect(syslogConfig('    host: siem.example.net\n    protocol: tls\n    ca_file: ca.pem\n')).toMatchObject({ port: 6514, ca_file: '/etc/otpgate/ca.pem' });
  });
});

/** A collector on loopback: every received message, as text. */
class Collector {
  readonly messages: string[] = [];
  private waiters: Array<() => void> = [];
  protected push(m: string): void {
    this.messages.push(m);
    for (const w of this.waiters.splice(0)) w();
  }
  async waitFor(n: number, timeoutMs = 5000): Promise<string[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.messages.length < n) {
      if (Date.now() > deadline) throw new Error(`got ${this.messages.length} of ${n} syslog messages`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, 100);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
    return this.messages;
  }
}

/** Octet-counted stream parsing, as a collector does it. */
function deframe(onMessage: (m: string) => void): (chunk: Buffer) => void {
  let buffer = Buffer.alloc(0);
  return (chunk) => {
    buffer = Buffer.concat([buffer, chunk]);
    for (;;) {
      const sp = buffer.indexOf(0x20);
      if (sp < 0) return;
      const len = Number(buffer.subarray(0, sp).toString());
      if (buffer.length < sp + 1 + len) return;
      onMessage(buffer.subarray(sp + 1, sp + 1 + len).toString('utf8'));
      buffer = buffer.subarray(sp + 1 + len);
    }
  };
}

class StreamCollector extends Collector {
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  port = 0;
  constructor(private readonly tlsOptions?: tls.TlsOptions) {
    super();
  }
  async listen(port = 0): Promise<void> {
    const onSocket = (s: net.Socket) => {
      this.sockets.add(s);
      s.on('data', deframe((m) => this.push(m)));
      s.on('close', () => this.sockets.delete(s));
      s.on('error', () => undefined);
    };
    this.server = this.tlsOptions ? tls.createServer(this.tlsOptions, onSocket) : net.createServer(onSocket);
    await new Promise<void>((r) => this.server!.listen(port, '127.0.0.1', r));
    this.port = (this.server.address() as net.AddressInfo).port;
  }
  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server!.close(() => r()));
  }
}

/** Wait (polling) until `cond` holds: what is waited for is an event, not a duration. */
async function until(what: string, cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const line = (n: number) => `${JSON.stringify({ level: 'info', time: new Date().toISOString(), event: 'auth', n, msg: `line ${n}` })}\n`;

describe('SyslogTransport on loopback', () => {
  const dir = mkdtempSync(join(tmpdir(), 'otpgate-syslog-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('sends one RFC 5424 datagram per line over UDP', async () => {
    const collector = new (class extends Collector {
      socket = dgram.createSocket('udp4');
      start() {
        this.socket.on('message', (m) => this.push(m.toString('utf8')));
        return new Promise<number>((r) => this.socket.bind(0, '127.0.0.1', () => r(this.socket.address().port)));
      }
    })();
    const port = await collector.start();
    const transport = new SyslogTransport(syslogConfig(`    host: 127.0.0.1\n    port: ${port}\n    facility: local0\n`));
    transport.write(line(1));
    transport.write(line(2));
    const got = await collector.waitFor(2);
    await transport.close();
    collector.socket.close();
    const m = got.map((g) => RFC5424.exec(g)!);
    expect(m.map((x) => Number(x[1]))).toEqual([16 * 8 + 6, 16 * 8 + 6]);
    expect(m.map((x) => x[3])).toEqual([hostname(), hostname()]);
    expect(m.map((x) => (JSON.parse(x[8]!) as { n: number }).n).sort()).toEqual([1, 2]);
  });

  it('queues over TCP while the collector is down, reconnects, and delivers in order', async () => {
    const collector = new StreamCollector();
    await collector.listen();
    const port = collector.port;
    await collector.close(); // down at first: lines wait in the queue
    const statuses: SyslogStatus[] = [];
    const transport = new SyslogTransport(syslogConfig(`    host: 127.0.0.1\n    port: ${port}\n    protocol: tcp\n`), { onStatus: (s) => statuses.push(s) });
    for (let i = 1; i <= 3; i++) transport.write(line(i));
    await until('the first connection to fail', () => statuses.length > 0);
    expect(statuses[0]).toMatchObject({ state: 'failed' });
    const back = new StreamCollector();
    await back.listen(port);
    transport.write(line(4));
    const got = await back.waitFor(4, 10_000);
    expect(got.map((g) => (JSON.parse(RFC5424.exec(g)![8]!) as { n: number }).n)).toEqual([1, 2, 3, 4]);
    expect(statuses.at(-1)).toMatchObject({ state: 'connected' });
    expect(statuses.filter((s) => s.state === 'failed')).toHaveLength(1); // once per outage, not per retry
    await transport.close();
    await back.close();
  });

  it('sends over TLS to a collector whose certificate chains to ca_file, and refuses one that does not', async () => {
    const ca = createTestCa('syslog test CA');
    const other = createTestCa('someone else');
    try {
      const server = ca.issue(['IP:127.0.0.1']);
      const collector = new StreamCollector({ cert: server.certificate, key: server.key });
      await collector.listen();
      writeFileSync(join(dir, 'ca.pem'), ca.certificate);
      writeFileSync(join(dir, 'other.pem'), other.certificate);
      const good = new SyslogTransport(syslogConfig(`    host: 127.0.0.1\n    port: ${collector.port}\n    protocol: tls\n    ca_file: ${join(dir, 'ca.pem')}\n`));
      good.write(line(1));
      const got = await collector.waitFor(1);
      expect(RFC5424.test(got[0]!)).toBe(true);
      await good.close();

      const statuses: SyslogStatus[] = [];
      const bad = new SyslogTransport(syslogConfig(`    host: 127.0.0.1\n    port: ${collector.port}\n    protocol: tls\n    ca_file: ${join(dir, 'other.pem')}\n`), {
        onStatus: (s) => statuses.push(s),
      });
      bad.write(line(2));
      await until('the TLS handshake to be refused', () => statuses.length > 0);
      expect(statuses[0]).toMatchObject({ state: 'failed' });
      expect((statuses[0] as { error: string }).error).toMatch(/certificate/i);
      expect(collector.messages).toHaveLength(1);
      await bad.close();
      await collector.close();
    } finally {
      ca.dispose();
      other.dispose();
    }
  });

  it('drops the oldest lines, counted, when the queue is full; never throws', async () => {
    const port = await new Promise<number>((r) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => r(p));
      });
    });
    let dropped = 0;
    const transport = new SyslogTransport(syslogConfig(`    host: 127.0.0.1\n    port: ${port}\n    protocol: tcp\n`), { onDrop: (n) => (dropped += n) });
    const big = `${JSON.stringify({ level: 'info', pad: 'x'.repeat(7000) })}\n`;
    for (let i = 0; i < 1000; i++) expect(transport.write(big)).toBe(true);
    expect(dropped).toBeGreaterThan(0);
    expect(transport.dropped).toBe(dropped);
    await transport.close(200);
  });
});
