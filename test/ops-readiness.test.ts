import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestNode } from './helpers/test-node.js';
import { papRequest, radclient } from './helpers/radclient.js';
import { awaitFreshStep, totpCode } from './helpers/otp.js';
import { eventually } from './helpers/eventually.js';

const SECRET = 'ready-client-secret';
/** Small, so the test sees the replica go not-ready within seconds; must exceed poll_seconds. */
const BUDGET = 3;

interface Readyz {
  status: 'ready' | 'not-ready';
  node: string;
  role: string;
  checks: Record<string, { ok: boolean; detail: string }>;
}

async function readyz(node: TestNode): Promise<{ code: number; body: Readyz }> {
  const res = await fetch(`${node.metricsUrl}/readyz`);
  return { code: res.status, body: (await res.json()) as Readyz };
}

interface StatusJson {
  ready: boolean;
  role: string;
  checks: Record<string, { ok: boolean; detail: string }>;
  serving: { reachable: boolean };
  cluster?: { replicas: Array<{ name: string; health: string }> };
}

async function status(node: TestNode): Promise<{ code: number; json: StatusJson }> {
  const r = await node.cli('status', '--json');
  return { code: r.code, json: JSON.parse(r.stdout) as StatusJson };
}

describe('/readyz and "otpgate status" follow the replica\'s contact with its master', () => {
  let master: TestNode;
  let replica: TestNode;
  let secret = '';

  beforeAll(async () => {
    master = await TestNode.createMaster('ready-master');
    await master.addClient('local', '127.0.0.1', SECRET);
    secret = await master.addUserWithToken('alice', 'alice-password');
    await master.start();
    // a long poll of 1 s: a healthy replica hears from its master every second, well inside the budget
    replica = await TestNode.createReplica('ready-replica', master, undefined, { cluster: `  poll_seconds: 1\n  lag_budget_seconds: ${BUDGET}\n` });
    await replica.start();
  });
  afterAll(async () => {
    await Promise.all([replica?.stop(), master?.stop()]);
  });

  it('is ready on both nodes, with the reasons, and healthy', async () => {
    const r = await eventually('the replica to be ready', async () => {
      const got = await readyz(replica);
      return got.code === 200 ? got : false;
    });
    expect(r.body).toMatchObject({ status: 'ready', node: 'ready-replica', role: 'replica' });
    expect(Object.keys(r.body.checks).sort()).toEqual(['radius', 'replication', 'store']);
    expect(r.body.checks.replication!.detail).toMatch(new RegExp(`master contacted [\\d.]+ s ago, 0 changes behind, lag 0 s \\(budget ${BUDGET} s\\)`));
    expect(r.body.checks.radius!.detail).toMatch(new RegExp(`^listening on ${replica.target} with \\d+ of \\d+ workers`));
    expect((await readyz(master)).body).toMatchObject({ status: 'ready', role: 'master' });
    expect(Object.keys((await readyz(master)).body.checks).sort()).toEqual(['radius', 'store']);
    expect((await fetch(`${replica.metricsUrl}/healthz`)).status).toBe(200);

    const onMaster = await status(master);
    expect(onMaster.code).toBe(0);
    expect(onMaster.json).toMatchObject({ ready: true, role: 'master', serving: { reachable: true } });
    expect(onMaster.json.cluster?.replicas.map((x) => [x.name, x.health])).toEqual([['ready-replica', 'ok']]);
    const onReplica = await status(replica);
    expect(onReplica.json).toMatchObject({ ready: true, role: 'replica', checks: { replication: { ok: true }, radius: { ok: true } } });
  });

  it('turns not-ready when the master has been away past the budget, and keeps answering RADIUS', async () => {
    await master.stop();
    const down = await eventually(
      'the replica to notice the master is gone',
      async () => {
        const got = await readyz(replica);
        return got.code === 503 ? got : false;
      },
      (BUDGET + 10) * 1000,
      200,
    );
    expect(down.body.status).toBe('not-ready');
    expect(down.body.checks.replication).toMatchObject({ ok: false });
    expect(down.body.checks.replication!.detail).toMatch(new RegExp(`^no contact with the master for \\d+ s \\(budget ${BUDGET} s\\), 0 changes behind; last error: .*cannot reach the master`));
    expect(down.body.checks.store!.ok && down.body.checks.radius!.ok).toBe(true);
    expect((await fetch(`${replica.metricsUrl}/healthz`)).status).toBe(200);
    const metrics = await (await fetch(`${replica.metricsUrl}/metrics`)).text();
    expect(metrics).toMatch(/^otpgate_ready 0$/m);
    expect(Number(/^otpgate_replication_seconds_since_contact (\S+)$/m.exec(metrics)![1])).toBeGreaterThan(BUDGET);

    const onReplica = await status(replica);
    expect(onReplica.code).toBe(1);
    expect(onReplica.json).toMatchObject({ ready: false, checks: { replication: { ok: false }, radius: { ok: true } } });
    const text = await replica.cli('status');
    expect(text.stdout).toMatch(/NOT READY/);
    expect(text.stdout).toMatch(/replication\s+NO\s+no contact with the master/);

    // not ready is advice for a load balancer, not a refusal: the replica still answers from its last good state
    await awaitFreshStep();
    expect((await radclient(replica.target, SECRET, papRequest('alice', `alice-password${totpCode(secret)}`))).code).toBe('Access-Accept');
  });

  it('is ready again once the master is back', async () => {
    await master.start();
    const back = await eventually(
      'the replica to be ready again',
      async () => {
        const got = await readyz(replica);
        return got.code === 200 ? got : false;
      },
      20_000,
      200,
    );
    expect(back.body.checks.replication).toMatchObject({ ok: true });
    expect((await status(replica)).code).toBe(0);
    const off = await master.cli('status', '--json');
    expect(off.code).toBe(0);
  });

  it('says so when the node is not running', async () => {
    await master.stop();
    const r = await status(master);
    expect(r.code).toBe(1);
    expect(r.json).toMatchObject({ ready: false, serving: { reachable: false }, checks: { store: { ok: true }, radius: { ok: false } } });
    expect(r.json.checks.radius!.detail).toMatch(/the serving node could not be asked: .*is "otpgate serve" running\?/);
  });
});
