import dgram from 'node:dgram';
import net from 'node:net';
import tls from 'node:tls';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { OtpgateError, type SyslogConfig, errorMessage } from '@otpgate/shared';
import { formatSyslogMessage, octetCounted, type SyslogHeader } from './syslog-format.js';

export class SyslogConfigError extends OtpgateError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('syslog-config', message, options);
  }
}

/** A change in the connection to the collector, for the node's own log (reported once per outage, not per retry). */
export type SyslogStatus = { state: 'connected'; target: string } | { state: 'failed'; target: string; error: string };

export interface SyslogTransportOptions {
  onStatus?: (status: SyslogStatus) => void;
  /** Lines dropped because the queue was full while the collector could not be reached. */
  onDrop?: (lines: number) => void;
}

/** What is kept while a TCP/TLS collector is away; beyond it the oldest lines go (counted). */
const MAX_QUEUE_BYTES = 4 * 1024 * 1024;
const CONNECT_TIMEOUT_MS = 5000;
const RETRY_MIN_MS = 500;
const RETRY_MAX_MS = 30_000;

/**
 * A pino destination that sends every line to a syslog collector as RFC 5424: one UDP datagram per line, or
 * octet-counted over TCP or TLS with reconnection and a bounded queue. It never blocks the caller and never throws:
 * a collector that is down costs queued (then dropped) lines, not RADIUS answers. Sockets hold the process open only
 * while lines are waiting, so a CLI command exits as soon as its lines are out.
 */
export class SyslogTransport {
  private readonly header: SyslogHeader;
  private readonly target: string;
  private readonly ca: Buffer | undefined;
  private udp: dgram.Socket | undefined;
  private socket: net.Socket | undefined;
  private connected = false;
  private waitingForDrain = false;
  private readonly queue: Buffer[] = [];
  private queuedBytes = 0;
  private retryMs = RETRY_MIN_MS;
  private retryTimer: NodeJS.Timeout | undefined;
  private reportedFailure = false;
  private closed = false;
  /** Lines dropped so far. */
  dropped = 0;

  constructor(
    private readonly config: SyslogConfig,
    private readonly options: SyslogTransportOptions = {},
  ) {
    this.header = { facility: config.facility, hostname: hostname(), appName: config.app_name, procId: String(process.pid) };
    this.target = `${config.protocol}://${net.isIP(config.host) === 6 ? `[${config.host}]` : config.host}:${config.port}`;
    if (config.protocol === 'tls' && config.ca_file) {
      try {
        this.ca = readFileSync(config.ca_file);
      } catch (err) {
        throw new SyslogConfigError(`cannot read log.syslog.ca_file ${config.ca_file}: ${errorMessage(err)}`, { cause: err });
      }
    }
  }

  /** pino calls this with one JSON line (newline-terminated). */
  write(chunk: string): boolean {
    if (this.closed) return true;
    for (const line of chunk.split('\n')) {
      if (line.trim() === '') continue;
      const message = formatSyslogMessage(line, this.header);
      if (this.config.protocol === 'udp') this.sendDatagram(message);
      else this.enqueue(octetCounted(message));
    }
    return true;
  }

  /** Send what is queued (up to `timeoutMs`), then close. */
  async close(timeoutMs = 2000): Promise<void> {
    this.closed = true;
    clearTimeout(this.retryTimer);
    if (this.udp) {
      const udp = this.udp;
      this.udp = undefined;
      await new Promise<void>((resolve) => udp.close(() => resolve()));
    }
    const socket = this.socket;
    if (!socket) return;
    const deadline = Date.now() + timeoutMs;
    while (this.connected && (this.queue.length > 0 || socket.writableLength > 0) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        socket.destroy();
        resolve();
      }, Math.max(100, deadline - Date.now()));
      socket.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      if (this.connected) socket.end();
      else socket.destroy();
    });
  }

  private sendDatagram(message: Buffer): void {
    if (!this.udp) {
      this.udp = dgram.createSocket(net.isIP(this.config.host) === 6 ? 'udp6' : 'udp4');
      this.udp.on('error', (err) => this.failed(err.message));
      this.udp.unref(); // a pending send keeps the process alive by itself
    }
    try {
      this.udp.send(message, this.config.port, this.config.host, (err) => {
        if (err) {
          this.drop(1);
          this.failed(err.message);
        } else if (this.reportedFailure) {
          this.reportedFailure = false;
          this.options.onStatus?.({ state: 'connected', target: this.target });
        }
      });
    } catch (err) {
      this.drop(1);
      this.failed(errorMessage(err));
    }
  }

  private enqueue(framed: Buffer): void {
    this.queue.push(framed);
    this.queuedBytes += framed.length;
    let dropped = 0;
    while (this.queuedBytes > MAX_QUEUE_BYTES && this.queue.length > 1) {
      this.queuedBytes -= this.queue.shift()!.length;
      dropped++;
    }
    if (dropped > 0) this.drop(dropped);
    if (this.connected) this.flush();
    else if (!this.socket && !this.retryTimer) this.connect();
  }

  private drop(lines: number): void {
    this.dropped += lines;
    this.options.onDrop?.(lines);
  }

  private connect(): void {
    if (this.closed) return;
    const { host, port } = this.config;
    const socket =
      this.config.protocol === 'tls'
        ? tls.connect({ host, port, ca: this.ca, servername: net.isIP(host) === 0 ? host : undefined, minVersion: 'TLSv1.2' })
        : net.connect({ host, port });
    this.socket = socket;
    socket.setTimeout(CONNECT_TIMEOUT_MS, () => socket.destroy(new Error(`no connection within ${CONNECT_TIMEOUT_MS / 1000} s`)));
    socket.once(this.config.protocol === 'tls' ? 'secureConnect' : 'connect', () => {
      socket.setTimeout(0);
      socket.setKeepAlive(true, 60_000);
      this.connected = true;
      this.retryMs = RETRY_MIN_MS;
      this.reportedFailure = false;
      this.options.onStatus?.({ state: 'connected', target: this.target });
      this.flush();
    });
    let lastError = 'connection closed by the collector';
    socket.on('error', (err: Error) => (lastError = err.message));
    // collectors do not talk back; anything they send is read and ignored so the socket never stalls
    socket.on('data', () => undefined);
    socket.once('close', () => {
      const wasConnected = this.connected;
      this.connected = false;
      this.waitingForDrain = false;
      this.socket = undefined;
      if (this.closed) return;
      this.failed(wasConnected ? `connection lost: ${lastError}` : lastError);
      this.retryTimer = setTimeout(() => {
        this.retryTimer = undefined;
        if (this.queue.length > 0) this.connect();
      }, this.retryMs);
      this.retryTimer.unref();
      this.retryMs = Math.min(RETRY_MAX_MS, this.retryMs * 2);
    });
  }

  private flush(): void {
    const socket = this.socket;
    if (!socket || !this.connected) return;
    socket.ref();
    while (this.queue.length > 0 && !this.waitingForDrain) {
      const next = this.queue.shift()!;
      this.queuedBytes -= next.length;
      if (!socket.write(next)) {
        this.waitingForDrain = true;
        socket.once('drain', () => {
          this.waitingForDrain = false;
          this.flush();
        });
      }
    }
    // all handed to libuv (pending writes keep the process alive by themselves): a CLI command may now exit
    if (this.queue.length === 0 && !this.waitingForDrain) socket.unref();
  }

  private failed(error: string): void {
    if (this.reportedFailure) return;
    this.reportedFailure = true;
    this.options.onStatus?.({ state: 'failed', target: this.target, error });
  }
}
