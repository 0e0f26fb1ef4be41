import https from 'node:https';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeProtectedHeader, importJWK, type JWK } from 'jose';
import { Agent, request } from 'undici';
import { FEED_SIGNATURE_HEADER, feedDigest, newFeedNonce, signFeed, type FeedBinding } from '@otpgate/shared';

export type ProxyMode = 'pass' | 'modify-entry-resigned' | 'modify-entry' | 'truncate' | 'drop-entry-resigned';

/** A signed answer as the master sent it, to be replayed later. */
export interface RecordedAnswer {
  status: number;
  body: Buffer;
  signature: string;
}

/**
 * A man in the middle between a replica and its master, for the tamper tests: it presents whatever server
 * certificate it is given, fetches from the real master with the replica's own client certificate, and alters the
 * answers as `mode` says (re-signing with the master's key, for the request's nonce, where a test needs the signature
 * to pass), or answers a path with a signed answer recorded earlier (`replay`).
 */
export interface ProxiedReplica {
  ca_certificate: string;
  client_certificate: string;
  client_key: string;
  cluster_id: string;
}

export class FeedProxy {
  mode: ProxyMode = 'pass';
  /** Answers by path (/v1/changes, /v1/snapshot) given in place of the master's. */
  readonly replay = new Map<string, RecordedAnswer>();
  private readonly replays = new Map<string, number>();
  private server: https.Server | undefined;
  private agent: Agent | undefined;
  private clusterId = '';
  port = 0;

  constructor(
    private readonly masterUrl: string,
    private readonly masterDataDir: string,
  ) {}

  /** The replica whose client certificate the proxy uses toward the master. */
  setReplica(bundle: ProxiedReplica): void {
    this.clusterId = bundle.cluster_id;
    this.agent = new Agent({ connect: { ca: bundle.ca_certificate, cert: bundle.client_certificate, key: bundle.client_key } });
  }

  async start(tls: { cert: string; key: string }): Promise<void> {
    const jwk = JSON.parse(readFileSync(join(this.masterDataDir, 'cluster', 'feed-signing.jwk'), 'utf8')) as JWK;
    const key = (await importJWK(jwk, 'EdDSA')) as Exclude<Awaited<ReturnType<typeof importJWK>>, Uint8Array>;
    this.server = https.createServer({ ...tls, minVersion: 'TLSv1.2' }, (req, res) => {
      void (async () => {
        const url = new URL(req.url ?? '/', this.masterUrl);
        const recorded = this.replay.get(url.pathname);
        if (recorded) {
          this.replays.set(url.pathname, this.served(url.pathname) + 1);
          res.writeHead(recorded.status, { 'content-type': 'application/json', [FEED_SIGNATURE_HEADER]: recorded.signature });
          res.end(recorded.body);
          return;
        }
        const upstream = await request(url, { dispatcher: this.agent!, method: req.method as 'GET' });
        let body = Buffer.from(await upstream.body.arrayBuffer());
        let signature = String(upstream.headers[FEED_SIGNATURE_HEADER] ?? '');
        // change batches are one JSON document; a snapshot is a stream of lines, passed on as it is (or cut short)
        const doc = (url.pathname === '/v1/changes' && upstream.statusCode === 200 ? JSON.parse(body.toString()) : {}) as { entries?: Array<Record<string, unknown>> };
        const entries = doc.entries ?? [];
        if (this.mode === 'truncate') body = body.subarray(0, Math.floor(body.length / 2));
        if (entries.length > 0 && this.mode.startsWith('modify-entry')) {
          const target = entries.find((e) => e.entity === 'user') ?? entries[0]!;
          target.data = { ...(target.data as object), display_name: 'Mallory was here' };
          body = Buffer.from(JSON.stringify(doc));
        }
        if (entries.length > 1 && this.mode === 'drop-entry-resigned') {
          entries.splice(0, 1);
          body = Buffer.from(JSON.stringify(doc));
        }
        if (this.mode.endsWith('-resigned')) {
          // what the master's signature bound (the request's nonce, a snapshot's position), over the altered body
          const { nonce, at } = decodeProtectedHeader(signature) as unknown as FeedBinding;
          signature = await signFeed(feedDigest(body), { nonce, ...(at ? { at } : {}) }, key, this.clusterId);
        }
        res.writeHead(upstream.statusCode, { 'content-type': String(upstream.headers['content-type']), [FEED_SIGNATURE_HEADER]: signature });
        res.end(body);
      })().catch((err: Error) => {
        res.writeHead(502);
        res.end(err.message);
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as { port: number }).port;
  }

  /**
   * Ask the master itself, as the replica would (its certificate, a nonce of the proxy's own), and keep the signed
   * answer: what someone in the path with a cluster certificate can collect and send again later.
   */
  async record(pathAndQuery: string): Promise<RecordedAnswer> {
    const url = new URL(pathAndQuery, this.masterUrl);
    url.searchParams.set('nonce', newFeedNonce());
    const upstream = await request(url, { dispatcher: this.agent! });
    return { status: upstream.statusCode, body: Buffer.from(await upstream.body.arrayBuffer()), signature: String(upstream.headers[FEED_SIGNATURE_HEADER] ?? '') };
  }

  /** How many times a recorded answer was given for `path`. */
  served(path: string): number {
    return this.replays.get(path) ?? 0;
  }

  /** Present another certificate from the next connection on (wrong CA, expired...). */
  useCertificate(tls: { cert: string; key: string }): void {
    this.server!.setSecureContext({ ...tls, minVersion: 'TLSv1.2' });
    this.server!.closeAllConnections();
  }

  get url(): string {
    return `https://127.0.0.1:${this.port}`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server?.close(() => resolve());
      this.server?.closeAllConnections();
    });
  }
}
