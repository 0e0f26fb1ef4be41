import http from 'node:http';
import https from 'node:https';
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { OtpgateError, formatListenAddress, type ListenAddress, errorMessage, errorCode } from '@otpgate/shared';
import { LogLimiter, type Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { readinessStatus, type ReadinessReport } from './health.js';

export class OpsServerError extends OtpgateError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ops-server', message, options);
  }
}

export interface OpsServerOptions {
  listen: readonly ListenAddress[];
  /** Required on /metrics and /readyz when set. */
  bearerToken?: string;
  tls?: { certFile: string; keyFile: string };
  metrics: Metrics;
  /** The exposition served on /metrics (default: `metrics`' registry alone; a node adds its worker threads'). */
  exposition?: () => Promise<string>;
  readiness: () => ReadinessReport;
  /** Extra facts for the /readyz body (node name, role). */
  identity: Record<string, string>;
  logger: Logger;
}

/** Where a running node's ops server can be reached; kept in the store for `otpgate status`. */
export interface OpsEndpoint {
  scheme: 'http' | 'https';
  host: string;
  port: number;
}

const sha256 = (text: string) => createHash('sha256').update(text).digest();

/**
 * The metrics and health server, on a port of its own: GET /metrics (Prometheus text), /healthz (alive), /readyz
 * (ready to answer RADIUS, 503 with the reasons when not; "degraded" with the reasons, still 200, when ready with
 * trouble an admin should see). Plain HTTP unless TLS files are configured; a bearer token
 * when configured. Nothing a client sends can throw out of here.
 */
export class OpsServer {
  private readonly servers: Array<http.Server | https.Server> = [];
  private readonly expectedToken: Buffer | undefined;
  private readonly refusals = new LogLimiter(60_000);

  constructor(private readonly options: OpsServerOptions) {
    // compare digests: equal length whatever was sent, so timingSafeEqual leaks neither content nor length
    this.expectedToken = options.bearerToken === undefined ? undefined : sha256(options.bearerToken);
  }

  async start(): Promise<void> {
    let tls: { cert: Buffer; key: Buffer } | undefined;
    if (this.options.tls) {
      const read = (path: string, what: string) => {
        try {
          return readFileSync(path);
        } catch (err) {
          throw new OpsServerError(`cannot read the metrics TLS ${what} ${path}: ${errorMessage(err)} (metrics.tls_${what}_file)`, { cause: err });
        }
      };
      tls = { cert: read(this.options.tls.certFile, 'cert'), key: read(this.options.tls.keyFile, 'key') };
    }
    for (const address of this.options.listen) {
      const handler = (req: http.IncomingMessage, res: http.ServerResponse) => void this.handle(req, res);
      let server: http.Server | https.Server;
      try {
        server = tls ? https.createServer({ ...tls, minVersion: 'TLSv1.2' }, handler) : http.createServer(handler);
      } catch (err) {
        throw new OpsServerError(`the metrics TLS certificate or key is not usable: ${errorMessage(err)}`, { cause: err });
      }
      // a scraper that stalls must not pile up sockets
      server.headersTimeout = 10_000;
      server.requestTimeout = 15_000;
      server.keepAliveTimeout = 30_000;
      server.on('clientError', (_err, socket) => socket.destroy());
      try {
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen(address.port, address.host, () => {
            server.off('error', reject);
            resolve();
          });
        });
      } catch (err) {
        await this.stop();
        const code = errorCode(err);
        const hint = code === 'EADDRINUSE' ? ' (another otpgate node or exporter on this host? change metrics.listen)' : '';
        throw new OpsServerError(`cannot listen for metrics on ${formatListenAddress(address)}: ${code ?? errorMessage(err)}${hint}`, { cause: err });
      }
      const bound = server.address() as AddressInfo;
      this.options.logger.info(
        { event: 'ops-listening', listen: formatListenAddress({ host: bound.address, port: bound.port }), tls: tls !== undefined, authorization: this.expectedToken ? 'bearer-token' : 'none' },
        'metrics and health listening',
      );
      this.servers.push(server);
    }
  }

  /** The bound addresses, for `otpgate status` to find this node. */
  endpoints(): OpsEndpoint[] {
    return this.servers.map((s) => {
      const a = s.address() as AddressInfo;
      return { scheme: this.options.tls ? 'https' : 'http', host: a.address, port: a.port };
    });
  }

  async stop(): Promise<void> {
    await closeHttpServers(this.servers);
    this.servers.length = 0;
  }

  private authorized(req: http.IncomingMessage): boolean {
    if (!this.expectedToken) return true;
    const header = req.headers.authorization ?? '';
    const presented = /^Bearer\s+(\S+)\s*$/i.exec(header)?.[1];
    return presented !== undefined && timingSafeEqual(sha256(presented), this.expectedToken);
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    try {
      const path = (req.url ?? '/').split('?')[0];
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        return this.send(res, 405, 'application/json', JSON.stringify({ error: 'only GET and HEAD' }), { allow: 'GET, HEAD' });
      }
      if (path === '/healthz') return this.send(res, 200, 'application/json', JSON.stringify({ status: 'alive', ...this.options.identity }));
      if (path !== '/metrics' && path !== '/readyz') {
        return this.send(res, 404, 'application/json', JSON.stringify({ error: 'not found; try /metrics, /healthz or /readyz' }));
      }
      if (!this.authorized(req)) {
        const from = req.socket.remoteAddress ?? 'unknown';
        if (this.refusals.allow(from)) {
          this.options.logger.warn({ event: 'ops-unauthorized', from, path }, `metrics request from ${from} refused: missing or wrong bearer token`);
        }
        return this.send(res, 401, 'application/json', JSON.stringify({ error: 'bearer token required' }), { 'www-authenticate': 'Bearer' });
      }
      const report = this.options.readiness();
      this.options.metrics.ready.set(report.ready ? 1 : 0);
      if (path === '/readyz') {
        // degraded is still ready (200): a load balancer must keep a node that answers correctly
        const body = { status: readinessStatus(report), ...this.options.identity, degraded: report.degraded, checks: report.checks };
        return this.send(res, report.ready ? 200 : 503, 'application/json', JSON.stringify(body));
      }
      const registry = this.options.metrics.registry;
      return this.send(res, 200, registry.contentType, await (this.options.exposition?.() ?? registry.metrics()));
    } catch (err) {
      this.options.logger.error({ event: 'ops-error', err: errorMessage(err) }, 'metrics request failed');
      if (!res.headersSent) this.send(res, 500, 'application/json', JSON.stringify({ error: 'internal error' }));
      else res.destroy();
    }
  }

  private send(res: http.ServerResponse, status: number, type: string, body: string, headers: Record<string, string> = {}): void {
    res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', 'content-length': Buffer.byteLength(body), ...headers });
    res.end(res.req.method === 'HEAD' ? undefined : body);
  }
}

/** Close HTTP(S) servers now: keep-alive and long-poll connections are cut rather than waited for. */
export function closeHttpServers(servers: ReadonlyArray<{ close(cb: () => void): unknown; closeAllConnections(): void }>): Promise<void> {
  return Promise.all(
    servers.map(
      (s) =>
        new Promise<void>((resolve) => {
          s.close(() => resolve());
          s.closeAllConnections();
        }),
    ),
  ).then(() => undefined);
}
