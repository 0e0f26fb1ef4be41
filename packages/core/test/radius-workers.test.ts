import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AggregatorRegistry } from 'prom-client';
import { parseNodeConfig } from '@otpgate/shared';
import { createLogger } from '../src/logger.js';
import { Metrics } from '../src/metrics.js';
import { radiusCheck } from '../src/ops/health.js';
import { RadiusWorkers } from '../src/workers/radius-workers.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function until(condition: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('RADIUS worker threads (with a stand-in thread script)', () => {
  it('starts every thread on the ports the first one got, restarts one that dies, says so in readiness and metrics, and adds up their metrics', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'otpgate-workers-'));
    dirs.push(dir);
    const config = parseNodeConfig(`node:\n  data_dir: ${dir}\nradius:\n  listen: ["127.0.0.1:0"]\n`, 'test', dir);
    const metrics = new Metrics({ processMetrics: false });
    const lines: string[] = [];
    const workers = new RadiusWorkers({
      config,
      count: 3,
      logger: createLogger('silent', 'test'),
      metrics,
      forwardLog: (line) => lines.push(line),
      script: new URL('./fixtures/stand-in-radius-thread.mjs', import.meta.url),
    });
    await workers.start();
    expect(workers.addresses()).toEqual([{ host: '127.0.0.1', port: 40000, family: 4 }]);
    // worker 2 dies 50 ms after starting: the others serve, readiness says so, and it comes back
    await until(() => workers.status().restarts === 1);
    expect(radiusCheck(workers).run()).toMatchObject({ ok: true });
    await until(() => workers.status().listening === 3);
    expect(radiusCheck(workers).run().detail).toContain('3 of 3 workers (1 restarts so far)');
    const text = await metrics.registry.metrics();
    expect(text).toContain('otpgate_radius_worker_restarts_total 1');
    expect(text).toContain('otpgate_radius_workers 3');
    const summed = await AggregatorRegistry.aggregate((await workers.threadMetrics())).metrics();
    expect(summed).toContain('otpgate_radius_requests_total{client="nas",code="access-request",result="accept"} 3');
    expect(lines.filter((l) => l.includes('stand-in up'))).toHaveLength(4);
    await workers.stop(1000);
    expect(workers.status().listening).toBe(0);
    expect(radiusCheck(workers).run()).toMatchObject({ ok: false });
  });
});
