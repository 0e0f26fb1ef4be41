import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StepClaimer } from '../src/cluster/step-claimer.js';
import { createLogger } from '../src/logger.js';
import { Metrics } from '../src/metrics.js';
import { Store } from '../src/store/store.js';

/** The claim timeout the test gives the claimer (cluster.replay_claim's timeout). */
const TIMEOUT_MS = 500;

describe('a replica claiming a code from its master', () => {
  let dataDir: string;
  let store: Store;
  let stalled: net.Server;
  const sockets: net.Socket[] = [];

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'claimer-'));
    store = await Store.create(join(dataDir, 'data'));
    // the replica's cluster files: one self-signed certificate serves as CA and client certificate alike
    const dir = join(store.dataDir, 'cluster');
    mkdirSync(dir);
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', '/CN=replica',
      '-keyout', join(dir, 'client.key'), '-out', join(dir, 'client.crt')], { stdio: 'ignore' });
    execFileSync('cp', [join(dir, 'client.crt'), join(dir, 'ca.crt')]);
    // a master whose main thread is too busy to finish a TLS handshake: the connection is accepted, nothing answers
    stalled = net.createServer((s) => {
      sockets.push(s);
      s.on('data', () => undefined);
    });
    await new Promise<void>((r) => stalled.listen(0, '127.0.0.1', r));
  });
  afterAll(() => {
    for (const s of sockets) s.destroy();
    stalled.close();
    store.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('gives up within its timeout while the master does not finish the TLS handshake, for every claim in flight', async () => {
    const { port } = stalled.address() as net.AddressInfo;
    const claimer = new StepClaimer(store, `https://127.0.0.1:${port}`, 'best-effort', TIMEOUT_MS, createLogger('silent', 'test'), new Metrics({ processMetrics: false }));
    try {
      // claims keep coming, as Accepts do, more of them than the claimer keeps connections
      const settled = await Promise.all(
        Array.from({ length: 20 }, async (_, i) => {
          await new Promise((r) => setTimeout(r, i * 50));
          const started = performance.now();
          const outcome = await claimer.claim({ token_id: i + 1, last_step: 1000, drift: 0 });
          return { outcome, ms: performance.now() - started };
        }),
      );
      expect(settled.map((s) => s.outcome)).toEqual(Array(20).fill('unavailable'));
      // the timeout is the setting's promise to the NAS waiting for an answer (a moment's slack for a busy machine)
      expect(Math.max(...settled.map((s) => s.ms))).toBeLessThan(TIMEOUT_MS + 400);
    } finally {
      await claimer.close();
    }
  });
});
