import dgram from 'node:dgram';
import { formatListenAddress, OtpgateError, type ListenAddress, errorMessage, errorStack, errorCode } from '@otpgate/shared';
import type { Logger } from '../logger.js';
import { LogLimiter } from '../logger.js';
import type { DropCause, Metrics } from '../metrics.js';
import { CODE, CODE_NAMES } from './constants.js';
import { parseRequest, type RadiusRequest } from './packet.js';
import { verifyMessageAuthenticator } from './authenticators.js';
import { buildResponse } from './response.js';
import type { ClientTable, RadiusClient } from './client-table.js';
import { DuplicateCache } from './duplicate-cache.js';
import type { StoreHealth } from '../store/store-health.js';

export interface RequestSource {
  address: string;
  port: number;
}

/** What to do with an Access-Request: answer with a code and attributes, or stay silent for a stated cause. */
export type RadiusAnswer = { code: number; attributes: Buffer[] } | { drop: DropCause; detail: string };

export type AccessRequestHandler = (request: RadiusRequest, client: RadiusClient, source: RequestSource) => Promise<RadiusAnswer>;

export interface RadiusServerOptions {
  listen: readonly ListenAddress[];
  /** Share each port with the node's other RADIUS threads (SO_REUSEPORT). */
  reusePort?: boolean;
  receiveBufferBytes: number;
  duplicateCacheSeconds: number;
  unknownClientLogIntervalSeconds: number;
  clients: () => ClientTable;
  handler: AccessRequestHandler;
  logger: Logger;
  metrics: Metrics;
  /** A request that fails because the store cannot be written is dropped as such; the health logs it once a minute. */
  storeHealth?: StoreHealth;
}

export class RadiusBindError extends OtpgateError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('radius-bind', message, options);
  }
}

const RESULT_BY_CODE: Record<number, string> = {
  [CODE.ACCESS_ACCEPT]: 'accept',
  [CODE.ACCESS_REJECT]: 'reject',
  [CODE.ACCESS_CHALLENGE]: 'challenge',
};

/**
 * The UDP side: sockets, client table, request validation (Message-Authenticator, BlastRADIUS rules), duplicate
 * cache and Status-Server. Every datagram is either answered or dropped with a counted, logged cause; nothing a peer
 * sends can throw out of here.
 */
export class RadiusServer {
  private readonly sockets: dgram.Socket[] = [];
  private readonly duplicates: DuplicateCache;
  private readonly logLimiter: LogLimiter;
  private inFlight = 0;
  private stopping = false;

  constructor(private readonly options: RadiusServerOptions) {
    this.duplicates = new DuplicateCache(options.duplicateCacheSeconds * 1000);
    this.logLimiter = new LogLimiter(options.unknownClientLogIntervalSeconds * 1000);
  }

  /** Bind every listen address. An IPv6 wildcard that the host cannot provide is skipped with a warning. */
  async start(): Promise<void> {
    for (const address of this.options.listen) {
      try {
        this.sockets.push(await this.bind(address));
      } catch (err) {
        const code = errorCode(err);
        const ipv6Unavailable = address.family === 6 && (code === 'EAFNOSUPPORT' || code === 'EADDRNOTAVAIL');
        if (ipv6Unavailable && this.options.listen.length > 1) {
          this.options.logger.warn({ listen: formatListenAddress(address), err: code }, 'IPv6 is not available here; not listening on it');
          continue;
        }
        await this.stop();
        const hint = code === 'EADDRINUSE' ? ' (another RADIUS server already listens there?)' : code === 'EACCES' ? ' (ports below 1024 need CAP_NET_BIND_SERVICE)' : '';
        throw new RadiusBindError(`cannot listen for RADIUS on ${formatListenAddress(address)}: ${code ?? errorMessage(err)}${hint}`, { cause: err });
      }
    }
    if (this.sockets.length === 0) throw new RadiusBindError('no RADIUS listen address could be bound');
  }

  /** The addresses actually bound (port 0 in the config becomes the port the kernel chose). */
  addresses(): ListenAddress[] {
    return this.sockets.map((s) => {
      const a = s.address();
      return { host: a.address, port: a.port, family: a.family === 'IPv6' ? 6 : 4 };
    });
  }

  get requestsInFlight(): number {
    return this.inFlight;
  }

  /**
   * Stop taking new requests, let the ones being worked on finish and answer (up to `graceMs`), then close the
   * sockets: no request meets a closed store, and no accepted code goes unanswered.
   */
  async stop(graceMs = 10_000): Promise<void> {
    this.stopping = true;
    const deadline = Date.now() + graceMs;
    while (this.inFlight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    if (this.inFlight > 0) this.options.logger.warn({ in_flight: this.inFlight }, 'stopping with requests still being worked on');
    await Promise.all(this.sockets.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    this.sockets.length = 0;
  }

  private bind(address: ListenAddress): Promise<dgram.Socket> {
    return new Promise((resolve, reject) => {
      const socket = dgram.createSocket({ type: address.family === 6 ? 'udp6' : 'udp4', ipv6Only: address.family === 6, reusePort: this.options.reusePort ?? false });
      socket.once('error', reject);
      socket.bind(address.port, address.host, () => {
        socket.off('error', reject);
        try {
          socket.setRecvBufferSize(this.options.receiveBufferBytes);
        } catch (err) {
          this.options.logger.warn({ err: errorMessage(err) }, 'could not set the RADIUS receive buffer size');
        }
        socket.on('error', (err) => this.options.logger.error({ err: err.message }, 'RADIUS socket error'));
        socket.on('message', (msg, rinfo) => this.receive(socket, msg, rinfo));
        const bound = socket.address();
        this.options.logger.debug({ listen: formatListenAddress({ host: bound.address, port: bound.port }) }, 'RADIUS socket bound');
        resolve(socket);
      });
    });
  }

  private drop(cause: DropCause, source: RequestSource, detail: string, client?: RadiusClient): void {
    this.options.metrics.dropped.inc({ cause });
    if (client) this.options.metrics.requests.inc({ client: client.name, code: 'access-request', result: 'drop' });
    if (this.logLimiter.allow(`${cause}|${source.address}`)) {
      this.options.logger.warn(
        { event: 'radius-drop', cause, source: `${source.address}:${source.port}`, client: client?.name, detail },
        `dropped a datagram from ${source.address}: ${detail}`,
      );
    }
  }

  private receive(socket: dgram.Socket, datagram: Buffer, rinfo: dgram.RemoteInfo): void {
    if (this.stopping) return; // shutting down: the NAS retries, or asks its next server
    const source = { address: rinfo.address, port: rinfo.port };
    try {
      const client = this.options.clients().find(rinfo.address);
      if (!client) {
        this.drop('unknown-client', source, 'not a configured RADIUS client (add it with "otpgate client add")');
        return;
      }
      const parsed = parseRequest(datagram);
      if (!parsed.ok) {
        this.drop('malformed', source, `malformed packet (${parsed.reason}): ${parsed.detail}`, client);
        return;
      }
      const request = parsed.request;
      if (request.code !== CODE.ACCESS_REQUEST && request.code !== CODE.STATUS_SERVER) {
        const name = CODE_NAMES[request.code] ?? `code ${request.code}`;
        this.drop('unsupported-code', source, `${name} is not served on this port`, client);
        return;
      }
      if (!this.checkAuthenticator(request, client, source)) return;
      if (request.code === CODE.STATUS_SERVER) {
        this.options.metrics.requests.inc({ client: client.name, code: 'status-server', result: 'accept' });
        this.send(socket, buildResponse(CODE.ACCESS_ACCEPT, request, client.secret, []), source);
        return;
      }
      const key = DuplicateCache.key(source.address, source.port, request.identifier, request.authenticator);
      const seen = this.duplicates.begin(key);
      if (seen.kind === 'answered') {
        this.options.metrics.duplicates.inc({ client: client.name });
        this.send(socket, seen.response, source);
        return;
      }
      if (seen.kind === 'in-progress') {
        this.drop('duplicate-in-progress', source, `retransmission of request ${request.identifier} still being worked on`, client);
        return;
      }
      this.dispatch(socket, request, client, source, key);
    } catch (err) {
      this.options.metrics.dropped.inc({ cause: 'internal-error' });
      this.options.logger.error({ err: errorStack(err), source: `${source.address}:${source.port}` }, 'error handling a RADIUS datagram');
    }
  }

  /** RFC 3579 §3.2 and the BlastRADIUS rules: a wrong Message-Authenticator is always dropped; a missing one when the client must send it. */
  private checkAuthenticator(request: RadiusRequest, client: RadiusClient, source: RequestSource): boolean {
    if (request.messageAuthenticatorOffset >= 0) {
      if (verifyMessageAuthenticator(request.packet, request.messageAuthenticatorOffset, client.secret)) return true;
      this.drop('bad-message-authenticator', source, 'Message-Authenticator does not verify: the shared secret differs or the packet was altered', client);
      return false;
    }
    if (request.code === CODE.STATUS_SERVER) {
      this.drop('missing-message-authenticator', source, 'Status-Server without Message-Authenticator (RFC 5997 requires it)', client);
      return false;
    }
    if (client.require_message_authenticator) {
      this.drop(
        'missing-message-authenticator',
        source,
        `Access-Request without Message-Authenticator from client ${client.name}, which must send one (BlastRADIUS); ` +
          'if this client cannot (e.g. pam_radius_auth 2.0), set its require_message_authenticator to false',
        client,
      );
      return false;
    }
    if (request.proxyStates.length > 0) {
      this.drop('proxy-state-without-message-authenticator', source, 'Proxy-State without Message-Authenticator (BlastRADIUS limit_proxy_state)', client);
      return false;
    }
    return true;
  }

  private dispatch(socket: dgram.Socket, request: RadiusRequest, client: RadiusClient, source: RequestSource, key: string): void {
    const started = process.hrtime.bigint();
    this.inFlight++;
    this.options
      .handler(request, client, source)
      .then((answer) => {
        if ('drop' in answer) {
          this.duplicates.abandon(key);
          this.drop(answer.drop, source, answer.detail, client);
          return;
        }
        const response = buildResponse(answer.code, request, client.secret, answer.attributes);
        this.duplicates.answered(key, response);
        this.send(socket, response, source);
        const result = RESULT_BY_CODE[answer.code] ?? 'other';
        this.options.metrics.answered(client.name, 'access-request', result, Number(process.hrtime.bigint() - started) / 1e9);
      })
      .catch((err: unknown) => {
        this.duplicates.abandon(key);
        const unwritable = this.options.storeHealth?.problem;
        if (unwritable) {
          // fail closed: no Accept without its stored step; the NAS asks its next server
          this.drop('store-unwritable', source, `the store cannot be written (${unwritable.reason}); no answer`, client);
          return;
        }
        this.drop('internal-error', source, `internal error: ${errorMessage(err)}`, client);
        this.options.logger.error({ err: errorStack(err) }, 'error authenticating a RADIUS request');
      })
      .finally(() => {
        this.inFlight--;
      });
  }

  private send(socket: dgram.Socket, response: Buffer, source: RequestSource): void {
    // a failed send surfaces as the socket's 'error' event, logged there
    socket.send(response, source.port, source.address);
  }
}
