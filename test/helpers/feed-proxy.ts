import https from 'node:https';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { importJWK, type JWK } from 'jose';
import { Agent, request } from 'undici';
import { FEED_SIGNATURE_HEADER, signFeed } from '@otpgate/shared';

export type ProxyMode = 'pass' | 'modify-entry-resigned' | 'modify-entry' | 'truncate' | 'drop-entry-resigned';

/**
 * A man in the middle between a replica and its master, for the tamper tests: it presents whatever server
 * certificate it is given, fetches from the real master with the replica's own client certificate, and alters the
 * answers as `mode` says (re-signing with the master's key where a test needs the signature to pass).
 */
export interface ProxiedReplica {
  ca_certificate: string;
  client_certificate: string;
  client_key: string;
  cluster_id: string;
}

export class FeedProxy {
  mode: ProxyMode = 'pass';
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
        const upstream = await request(new URL(req.url ?? '/', this.masterUrl), { dispatcher: this.agent!, method: req.method as 'GET' });
        let body = Buffer.from(await upstream.body.arrayBuffer());
        let signature = String(upstream.headers[FEED_SIGNATURE_HEADER] ?? '');
        const doc = JSON.parse(body.toString()) as { entries?: Array<Record<string, unknown>> };
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
        if (this.mode.endsWith('-resigned')) signature = await signFeed(body, key, this.clusterId);
        res.writeHead(upstream.statusCode, { 'content-type': 'application/json', [FEED_SIGNATURE_HEADER]: signature });
        res.end(body);
      })().catch((err: Error) => {
        res.writeHead(502);
        res.end(err.message);
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as { port: number }).port;
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
