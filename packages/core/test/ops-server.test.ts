import http from 'node:http';
import https from 'node:https';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger } from '../src/logger.js';
import { Metrics } from '../src/metrics.js';
import { evaluateReadiness, type HealthCheck } from '../src/ops/health.js';
import { OpsServer } from '../src/ops/ops-server.js';
import { createTestCa } from './helpers/tls-certs.js';

const logger = createLogger('silent', 'test');
const TOKEN = 'scrape-token-0123456789';

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function get(url: string, headers: Record<string, string> = {}, ca?: string, method = 'GET'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const onResponse = (res: http.IncomingMessage) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    };
    const req = url.startsWith('https:') ? https.request(url, { headers, ca, method }, onResponse) : http.request(url, { headers, method }, onResponse);
    req.on('error', reject);
    req.end();
  });
}

async function started(options: { token?: string; tls?: { certFile: string; keyFile: string }; checks?: HealthCheck[] }): Promise<{ ops: OpsServer; base: string; metrics: Metrics }> {
  const metrics = new Metrics({ processMetrics: false });
  const ops = new OpsServer({
    listen: [{ host: '127.0.0.1', port: 0, family: 4 }],
    bearerToken: options.token,
    tls: options.tls,
    metrics,
    readiness: () => evaluateReadiness(options.checks ?? []),
    identity: { node: 'n1', role: 'master' },
    logger,
  });
  await ops.start();
  const e = ops.endpoints()[0]!;
  return { ops, base: `${e.scheme}://127.0.0.1:${e.port}`, metrics };
}

describe('metrics and health server', () => {
  const dir = mkdtempSync(join(tmpdir(), 'otpgate-ops-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('serves /healthz, /readyz with the reasons, and Prometheus text on /metrics', async () => {
    let radiusUp = false;
    let lagging = false;
    const checks: HealthCheck[] = [
      { name: 'store', run: () => ({ ok: true, detail: 'open' }) },
      { name: 'radius', run: () => ({ ok: radiusUp, detail: radiusUp ? 'listening' : 'not listening' }) },
      { name: 'replication', run: () => (lagging ? { ok: true, degraded: true, detail: 'master away' } : { ok: true, detail: 'in step' }) },
      {
        name: 'broken',
        run: () => {
          throw new Error('boom');
        },
      },
    ];
    const { ops, base, metrics } = await started({ checks: checks.slice(0, 3) });
    try {
      expect(JSON.parse((await get(`${base}/healthz`)).body)).toEqual({ status: 'alive', node: 'n1', role: 'master' });
      const notReady = await get(`${base}/readyz`);
      expect(notReady.status).toBe(503);
      expect(JSON.parse(notReady.body)).toEqual({
        status: 'not-ready',
        node: 'n1',
        role: 'master',
        degraded: [],
        checks: { store: { ok: true, detail: 'open' }, radius: { ok: false, detail: 'not listening' }, replication: { ok: true, detail: 'in step' } },
      });
      radiusUp = true;
      expect((await get(`${base}/readyz`)).status).toBe(200);
      expect(JSON.parse((await get(`${base}/readyz`)).body)).toMatchObject({ status: 'ready', degraded: [] });
      // degraded is reported beside readiness: still 200, so a load balancer keeps the node
      lagging = true;
      const degraded = await get(`${base}/readyz`);
      expect(degraded.status).toBe(200);
      expect(JSON.parse(degraded.body)).toMatchObject({ status: 'degraded', degraded: ['replication: master away'], checks: { replication: { ok: true, degraded: true } } });
      radiusUp = false;
      expect(JSON.parse((await get(`${base}/readyz`)).body)).toMatchObject({ status: 'not-ready', degraded: ['replication: master away'] });
      radiusUp = true;
      metrics.dropped.inc({ cause: 'unknown-client' });
      const text = await get(`${base}/metrics`);
      expect(text.headers['content-type']).toMatch(/^text\/plain/);
      expect(text.body).toContain('otpgate_radius_dropped_total{cause="unknown-client"} 1');
      expect(text.body).toContain('otpgate_ready 1');
      expect((await get(`${base}/other`)).status).toBe(404);
      expect((await get(`${base}/metrics`, {}, undefined, 'POST')).status).toBe(405);
      expect(evaluateReadiness(checks).checks.broken).toEqual({ ok: false, detail: 'check failed: boom' });
    } finally {
      await ops.stop();
    }
  });

  it('asks for the bearer token on /metrics and /readyz, not on /healthz', async () => {
    const { ops, base } = await started({ token: TOKEN });
    try {
      expect((await get(`${base}/metrics`)).status).toBe(401);
      expect((await get(`${base}/metrics`, { authorization: `Bearer ${TOKEN}x` })).status).toBe(401);
      expect((await get(`${base}/readyz`, { authorization: 'Basic abc' })).status).toBe(401);
      expect((await get(`${base}/metrics`)).headers['www-authenticate']).toBe('Bearer');
      expect((await get(`${base}/metrics`, { authorization: `Bearer ${TOKEN}` })).status).toBe(200);
      expect((await get(`${base}/readyz`, { authorization: `bearer ${TOKEN}` })).status).toBe(200);
      expect((await get(`${base}/healthz`)).status).toBe(200);
    } finally {
      await ops.stop();
    }
  });

  it('serves HTTPS with the configured certificate', async () => {
    const ca = createTestCa();
    try {
      const cert = ca.issue(['IP:127.0.0.1']);
      writeFileSync(join(dir, 'm.crt'), cert.certificate);
      writeFileSync(join(dir, 'm.key'), cert.key);
      const { ops, base } = await started({ tls: { certFile: join(dir, 'm.crt'), keyFile: join(dir, 'm.key') } });
      try {
        expect(base.startsWith('https://')).toBe(true);
        expect((await get(`${base}/healthz`, {}, ca.certificate)).status).toBe(200);
      } finally {
        await ops.stop();
      }
    } finally {
      ca.dispose();
    }
  });

  it('fails to start with a message naming the setting when the port is taken', async () => {
    const { ops, base } = await started({});
    const port = Number(new URL(base).port);
    const second = new OpsServer({
      listen: [{ host: '127.0.0.1', port, family: 4 }],
      metrics: new Metrics({ processMetrics: false }),
      readiness: () => evaluateReadiness([]),
      identity: {},
      logger,
    });
    try {
      await expect(second.start()).rejects.toThrow(/cannot listen for metrics on 127\.0\.0\.1:\d+: EADDRINUSE.*metrics\.listen/);
    } finally {
      await ops.stop();
    }
  });
});
