import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import https from 'node:https';
import { newFeedNonce, parseNodeConfig, type ReplicaBundle } from '@otpgate/shared';
import { ClusterFiles, Metrics, ReplicaRegistry, Store, createLogger } from '@otpgate/core';
import { addReplica, initCluster } from '../src/cluster-service.js';
import { issueCertificate } from '../src/cluster-ca.js';
import { ReplicationServer } from '../src/replication/server.js';

describe('the replication API over mutual TLS', () => {
  let dir: string;
  let store: Store;
  let server: ReplicationServer;
  let bundle: ReplicaBundle;
  let url: string;
  let stopped = false;

  /** GET `path` with a client certificate: the status and the body, or status 0 and why when the connection failed. */
  function get(path: string, cert: string, key: string): Promise<{ status: number; body: string }> {
    return new Promise((resolve) => {
      const req = https.get(`${url}${path}`, { ca: bundle.ca_certificate, cert, key, agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        res.on('error', (err) => resolve({ status: 0, body: err.message }));
      });
      req.on('error', (err) => resolve({ status: 0, body: err.message }));
    });
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'otpgate-unit-replication-'));
    store = await Store.create(join(dir, 'data'));
    const files = new ClusterFiles(store.dataDir);
    await initCluster(store, files, { hosts: ['127.0.0.1'], port: 0 });
    bundle = await addReplica(store, files, 'r1');
    const config = parseNodeConfig(
      `node:\n  data_dir: ${JSON.stringify(store.dataDir)}\nradius:\n  listen: ["127.0.0.1:0"]\ncluster:\n  listen: ["127.0.0.1:0"]\n`,
      'test.yaml',
      dir,
    );
    server = await ReplicationServer.create({ store, config, logger: createLogger('silent', 'test'), metrics: new Metrics() });
    await server.start();
    url = `https://127.0.0.1:${server.ports()[0]}`;
  });
  afterAll(async () => {
    if (!stopped) await server.stop();
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers an enrolled replica, and refuses a certificate of the cluster CA it never enrolled', async () => {
    expect(await get('/v1/ping', bundle.client_certificate, bundle.client_key)).toEqual({ status: 204, body: '' });
    const ca = new ClusterFiles(store.dataDir);
    const stranger = await issueCertificate({ certificate: ca.read('caCert'), key: ca.read('caKey') }, { commonName: 'stranger', usage: 'client', validityDays: 1 });
    const refused = await get('/v1/ping', stranger.certificate, stranger.key);
    expect(refused.status).toBe(403);
    expect(JSON.parse(refused.body)).toEqual({ error: 'certificate stranger is not enrolled in this cluster' });
  });

  it('ends a long poll when the server stops, instead of holding the stop for the whole wait', async () => {
    // a poll at the head waits for the next change, up to 60 s (longer than this test may take)
    const poll = get(`/v1/changes?nonce=${newFeedNonce()}&after=${store.head().seq}&wait=60`, bundle.client_certificate, bundle.client_key);
    // the poll has reached the server once its contact is recorded
    await expect.poll(() => new ReplicaRegistry(store).find('r1')?.last_seen_at ?? null, { timeout: 10_000 }).not.toBeNull();
    await server.stop();
    stopped = true;
    // woken and answered, or cut: either way at once
    expect([0, 200]).toContain((await poll).status);
  });
});
