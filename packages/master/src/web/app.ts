import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Fastify, { type FastifyInstance } from 'fastify';
import cookie from '@fastify/cookie';
import formbody from '@fastify/formbody';
import multipart from '@fastify/multipart';
import { formatListenAddress, type ListenAddress } from '@otpgate/shared';
import type { Logger } from '@otpgate/core';
import { adminCertificateFiles } from '../admin/certificate.js';

const ASSETS = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'assets');
const ASSET_TYPES: Record<string, string> = { 'style.css': 'text/css; charset=utf-8', 'app.js': 'text/javascript; charset=utf-8' };

/** Strict headers on every answer: no inline script or style, no framing, HTTPS only, nothing cached by default. */
export const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'strict-transport-security': 'max-age=31536000',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'permissions-policy': 'camera=(), microphone=(), geolocation=()',
};

/** The node's web certificate (made at first start of the admin UI; the enrollment portal uses the same). */
export function webTls(dataDir: string): { key: string; cert: string; minVersion: 'TLSv1.2' } {
  const files = adminCertificateFiles(dataDir);
  return {
    key: readFileSync(files.key, 'utf8'),
    cert: readFileSync(files.cert, 'utf8') + (existsSync(files.chain) ? `\n${readFileSync(files.chain, 'utf8')}` : ''),
    minVersion: 'TLSv1.2',
  };
}

/**
 * A fastify app for one of the node's HTTPS web servers (admin UI, enrollment portal): forms and uploads parsed, the
 * stylesheet and script served by the node itself, the security headers on every answer. The caller adds routes,
 * then calls listenWeb.
 */
export async function createWebApp(tls: ReturnType<typeof webTls>): Promise<FastifyInstance> {
  const app = Fastify({ https: tls, logger: false, bodyLimit: 20 * 1024 * 1024, trustProxy: false });
  await app.register(cookie);
  await app.register(formbody);
  // uploads (certificates, import files) arrive as fields of the body like any form; 10 MB is a big import
  await app.register(multipart, { attachFieldsToBody: 'keyValues', limits: { fileSize: 10 * 1024 * 1024, files: 4 } });
  app.addHook('onSend', async (_req, reply, payload) => {
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) reply.header(name, value);
    if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store');
    return payload;
  });
  app.get('/assets/:name', (req, reply) => {
    const name = (req.params as { name: string }).name;
    const type = ASSET_TYPES[name];
    if (!type) return reply.code(404).send('not found');
    return reply.type(type).header('cache-control', 'max-age=3600').send(readFileSync(join(ASSETS, name)));
  });
  return app;
}

export async function listenWeb(app: FastifyInstance, address: ListenAddress, logger: Logger, what: string): Promise<void> {
  await app.listen({ host: address.host, port: address.port });
  const bound = app.server.address() as { address: string; port: number };
  logger.info({ listen: formatListenAddress({ host: bound.address, port: bound.port }) }, `${what} listening (HTTPS)`);
}
