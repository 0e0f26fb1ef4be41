import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestNode } from './helpers/test-node.js';
import { papRequest } from './helpers/radclient.js';
import { radclientBatch } from './helpers/radclient-batch.js';
import { awaitFreshStep, totpCode, wrongCode } from './helpers/otp.js';
import { PrometheusServer, canRunPrometheus } from './helpers/prometheus.js';
import { eventually } from './helpers/eventually.js';
import { createTestCa, type TestCa } from '../packages/core/test/helpers/tls-certs.js';

const SECRET = 'prom-client-secret';
const TOKEN = 'metrics-bearer-token-for-prometheus';

/**
 * A real Prometheus scrapes a master (plain HTTP with a bearer token) and a replica (HTTPS) every second while
 * radclient sends them a known mix of requests; the query API must show both targets up and the counters must equal
 * what was sent.
 */
describe.skipIf(!canRunPrometheus)('Prometheus scrapes a master and a replica during a radclient run', () => {
  let master: TestNode;
  let replica: TestNode;
  let prometheus: PrometheusServer;
  let ca: TestCa;
  const secrets: Record<string, string> = {};
  const masterUsers = ['m1', 'm2', 'm3', 'm4', 'm5', 'badcode', 'badpw1', 'badpw2'];
  const replicaUsers = ['r1', 'r2', 'r3'];

  beforeAll(async () => {
    master = await TestNode.createMaster('prom-master', { metrics: `  bearer_token: "${TOKEN}"\n` });
    master.noteSecret(TOKEN);
    await master.addClient('local', '127.0.0.1', SECRET);
    for (const u of [...masterUsers, ...replicaUsers]) secrets[u] = await master.addUserWithToken(u, `${u}-password`);
    await master.start();

    ca = createTestCa('otpgate metrics CA');
    const cert = ca.issue(['IP:127.0.0.1']);
    replica = await TestNode.createReplica('prom-replica', master, undefined, { metrics: '  tls_cert_file: metrics.crt\n  tls_key_file: metrics.key\n' });
    writeFileSync(join(replica.dir, 'metrics.crt'), cert.certificate);
    writeFileSync(join(replica.dir, 'metrics.key'), cert.key, { mode: 0o600 });
    writeFileSync(join(replica.dir, 'metrics-ca.pem'), ca.certificate);
    await replica.start();
    await replica.waitForApplied(await master.headSeq());

    prometheus = new PrometheusServer(join(master.dir, 'prometheus'));
    await prometheus.start([
      { address: new URL(master.metricsUrl).host, target: 'master', bearerToken: TOKEN },
      { address: new URL(replica.metricsUrl).host, target: 'replica', caFile: join(replica.dir, 'metrics-ca.pem') },
    ]);
  });
  afterAll(async () => {
    await prometheus?.stop();
    await Promise.all([replica?.stop(), master?.stop()]);
    ca?.dispose();
  });

  it('shows both nodes up (bearer token over HTTP, and HTTPS)', async () => {
    expect(replica.metricsUrl).toMatch(/^https:/);
    const up = await eventually('both targets scraped', async () => {
      const byNode = await prometheus.byLabel('up', 'target');
      return byNode.master === 1 && byNode.replica === 1 ? byNode : false;
    }, 20_000, 250);
    expect(up).toEqual({ master: 1, replica: 1 });
    const info = await prometheus.query('otpgate_node_info');
    expect(info.map((s) => [s.metric.node, s.metric.role]).sort()).toEqual([
      ['prom-master', 'master'],
      ['prom-replica', 'replica'],
    ]);
  });

  it('counts what radclient sent: accepts, rejects by reason, drops by cause, on each node', async () => {
    await awaitFreshStep(15);
    const right = (u: string, step = 0) => papRequest(u, `${u}-password${totpCode(secrets[u]!, step)}`);
    const onMaster = [
      ...['m1', 'm2', 'm3', 'm4', 'm5'].map((u) => right(u)),
      papRequest('badcode', `badcode-password${wrongCode(secrets.badcode!)}`),
      papRequest('badcode', `badcode-password${wrongCode(secrets.badcode!)}`),
      papRequest('badpw1', `not-the-password${totpCode(secrets.badpw1!)}`),
      papRequest('badpw2', `not-the-password${totpCode(secrets.badpw2!)}`),
      papRequest('nobody1', 'whatever123456'),
      papRequest('nobody2', 'whatever123456'),
    ];
    const first = await radclientBatch(master.target, SECRET, onMaster, { parallel: 6 });
    expect(first.received).toEqual({ 'Access-Accept': 5, 'Access-Reject': 6 });
    // after the accepts: the same code again is a replay
    const replay = await radclientBatch(master.target, SECRET, [right('m1')]);
    expect(replay.received).toEqual({ 'Access-Reject': 1 });
    // no Message-Authenticator from a client that must send one: dropped, no answer (one try each)
    const drops = await radclientBatch(master.target, SECRET, [papRequest('m2', 'x123456', [], false), papRequest('m3', 'y123456', [], false)], {
      retries: 1,
      timeoutSeconds: 1,
    });
    expect(drops.noReply).toBe(2);
    // the replica: the next step's codes, so nothing the master already used
    const onReplica = await radclientBatch(replica.target, SECRET, [right('r1', 1), right('r2', 1), papRequest('r3', `r3-password${wrongCode(secrets.r3!)}`)]);
    expect(onReplica.received).toEqual({ 'Access-Accept': 2, 'Access-Reject': 1 });

    const expected = {
      master: { accept: 5, reject: 7, drop: 2 },
      replica: { accept: 2, reject: 1 },
    };
    const results = await eventually(
      'Prometheus to have scraped every request',
      async () => {
        const m = await prometheus.byLabel('sum by (result) (otpgate_radius_requests_total{target="master"})', 'result');
        const r = await prometheus.byLabel('sum by (result) (otpgate_radius_requests_total{target="replica"})', 'result');
        return isDeepStrictEqual({ master: m, replica: r }, expected) ? { master: m, replica: r } : false;
      },
      20_000,
      250,
    ).catch(async (err: Error) => {
      throw new Error(`${err.message}; last seen: ${JSON.stringify(await prometheus.query('otpgate_radius_requests_total'))}`);
    });
    expect(results).toEqual(expected);
    expect(await prometheus.byLabel('otpgate_radius_rejects_total{target="master"}', 'reason')).toEqual({
      'bad-code': 2,
      'bad-password': 2,
      'unknown-user': 2,
      replay: 1,
    });
    expect(await prometheus.byLabel('otpgate_radius_rejects_total{target="replica"}', 'reason')).toEqual({ 'bad-code': 1 });
    expect(await prometheus.byLabel('otpgate_radius_dropped_total{target="master"}', 'cause')).toEqual({ 'missing-message-authenticator': 2 });
    // the password checks behind them: 7 accepts and 2 wrong passwords through the local backend, no errors
    expect(await prometheus.byLabel('sum by (outcome) (otpgate_backend_requests_total)', 'outcome')).toEqual({ accept: 7, reject: 2 });
    const latency = await prometheus.query('sum(otpgate_radius_request_duration_seconds_count{target="master"})');
    expect(latency[0]?.value).toBe(5 + 7);
  });

  it('exports replication state and certificate expiry on both nodes', async () => {
    const seq = await master.headSeq();
    await replica.waitForApplied(seq);
    const state = await eventually('replication gauges', async () => {
      const acked = await prometheus.byLabel('otpgate_cluster_replica_acked_seq{target="master"}', 'replica');
      const applied = await prometheus.query('otpgate_replication_applied_seq{target="replica"}');
      const connected = await prometheus.query('otpgate_cluster_replicas_connected{target="master"}');
      return acked['prom-replica'] === seq && applied[0]?.value === seq && connected[0]?.value === 1 ? { acked, applied } : false;
    }, 20_000, 250);
    expect(state.acked['prom-replica']).toBe(seq);
    expect(await prometheus.byLabel('otpgate_replication_lag_budget_seconds{target="replica"}', 'target')).toEqual({ replica: 60 });
    const expiry = await prometheus.query('otpgate_certificate_expiry_timestamp_seconds');
    const names = expiry.map((s) => `${s.metric.target}/${s.metric.certificate}`).sort();
    expect(names).toEqual(['master/cluster-ca', 'master/replication-server', 'replica/cluster-ca', 'replica/metrics-server', 'replica/replica-client']);
    const now = Date.now() / 1000;
    for (const s of expiry) expect(s.value).toBeGreaterThan(now);
    expect((await prometheus.query('otpgate_ready'))).toHaveLength(2);
    // `otpgate status` reaches its own node both ways: the bearer token over HTTP, and HTTPS with the node's certificate
    for (const node of [master, replica]) {
      const status = JSON.parse(await node.cliOk('status', '--json')) as { ready: boolean; serving: { reachable: boolean; url: string } };
      expect(status, node.dir).toMatchObject({ ready: true, serving: { reachable: true } });
    }
    expect((await prometheus.query('process_resident_memory_bytes{target="master"}'))[0]?.value).toBeGreaterThan(0);
  });
});
