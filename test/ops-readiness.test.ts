import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestNode } from './helpers/test-node.js';
import { papRequest, radclient } from './helpers/radclient.js';
import { totpCode } from './helpers/otp.js';
import { eventually } from './helpers/eventually.js';

const SECRET = 'ready-client-secret';
/** Small, so the test sees the replicas degrade within seconds; must exceed poll_seconds. */
const BUDGET = 3;
/** Small too, so they turn not ready within seconds; long enough past the budget to look at them degraded. */
const MAX_STALENESS = 15;

interface Readyz {
  status: 'ready' | 'degraded' | 'not-ready';
  node: string;
  role: string;
  degraded: string[];
  checks: Record<string, { ok: boolean; degraded?: boolean; detail: string }>;
}

async function readyz(node: TestNode): Promise<{ code: number; body: Readyz }> {
  const res = await fetch(`${node.metricsUrl}/readyz`);
  return { code: res.status, body: (await res.json()) as Readyz };
}

interface StatusJson {
  ready: boolean;
  status: Readyz['status'];
  degraded: string[];
  role: string;
  checks: Record<string, { ok: boolean; degraded?: boolean; detail: string }>;
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
  let other: TestNode;
  const secrets: Record<string, string> = {};

  // a dozen CLI runs and two node starts: a busy machine needs more than the default minute
  beforeAll(async () => {
    master = await TestNode.createMaster('ready-master');
    await master.addClient('local', '127.0.0.1', SECRET);
    for (const user of ['alice', 'bob', 'carol']) secrets[user] = await master.addUserWithToken(user, `${user}-password`);
    await master.start();
    // a long poll of 1 s: a healthy replica hears from its master every second, well inside the budget
    const cluster = `  poll_seconds: 1\n  lag_budget_seconds: ${BUDGET}\n  max_staleness_seconds: ${MAX_STALENESS}\n`;
    replica = await TestNode.createReplica('ready-replica', master, undefined, { cluster });
    other = await TestNode.createReplica('ready-replica-2', master, undefined, { cluster });
    await Promise.all([replica.start(), other.start()]);
  }, 120_000);
  afterAll(async () => {
    await Promise.all([replica?.stop(), other?.stop(), master?.stop()]);
  });

  const login = (node: TestNode, user: string) => radclient(node.target, SECRET, papRequest(user, `${user}-password${totpCode(secrets[user]!)}`));

  it('is ready on both nodes, with the reasons, and healthy', async () => {
    const r = await eventually('the replica to be ready', async () => {
      const got = await readyz(replica);
      return got.code === 200 ? got : false;
    });
    expect(r.body).toMatchObject({ status: 'ready', node: 'ready-replica', role: 'replica', degraded: [] });
    expect(Object.keys(r.body.checks).sort()).toEqual(['radius', 'replication', 'store']);
    expect(r.body.checks.replication!.detail).toMatch(new RegExp(`master contacted [\\d.]+ s ago, 0 changes behind, lag 0 s \\(budget ${BUDGET} s\\)`));
    expect(r.body.checks.radius!.detail).toMatch(new RegExp(`^listening on ${replica.target} with \\d+ of \\d+ workers`));
    expect((await readyz(master)).body).toMatchObject({ status: 'ready', role: 'master' });
    expect(Object.keys((await readyz(master)).body.checks).sort()).toEqual(['radius', 'store']);
    expect((await fetch(`${replica.metricsUrl}/healthz`)).status).toBe(200);

    const onMaster = await status(master);
    expect(onMaster.code).toBe(0);
    expect(onMaster.json).toMatchObject({ ready: true, role: 'master', serving: { reachable: true } });
    expect(onMaster.json.cluster?.replicas.map((x) => [x.name, x.health]).sort()).toEqual([
      ['ready-replica', 'ok'],
      ['ready-replica-2', 'ok'],
    ]);
    const onReplica = await status(replica);
    expect(onReplica.json).toMatchObject({ ready: true, status: 'ready', degraded: [], role: 'replica', checks: { replication: { ok: true }, radius: { ok: true } } });
    expect(await replica.metric('otpgate_replication_degraded')).toBe(0);
    expect(await replica.metric('otpgate_replication_max_staleness_seconds')).toBe(MAX_STALENESS);
    await eventually('the second replica to be ready', async () => (await readyz(other)).code === 200);
  });

  it('stays ready on every replica while the master is away past the budget, keeps accepting, and reports degraded', async () => {
    await master.stop();
    const degraded = await eventually(
      'the replicas to notice the master is gone',
      async () => {
        const got = await Promise.all([readyz(replica), readyz(other)]);
        return got.every((g) => g.body.status === 'degraded') ? got : false;
      },
      (BUDGET + 10) * 1000,
      200,
    );
    for (const [node, r] of [[replica, degraded[0]], [other, degraded[1]]] as const) {
      // still 200: a load balancer that follows /readyz keeps every replica exactly when the master is down
      expect(r.code, node.dir).toBe(200);
      expect(r.body.checks.replication).toMatchObject({ ok: true, degraded: true });
      expect(r.body.checks.replication!.detail).toMatch(
        new RegExp(`^no contact with the master for \\d+ s \\(budget ${BUDGET} s\\), 0 changes behind; answering from its last good state, ready until that is ${MAX_STALENESS} s old; last error: .*cannot reach the master`),
      );
      expect(r.body.degraded).toEqual([`replication: ${r.body.checks.replication!.detail}`]);
    }
    expect((await login(replica, 'alice')).code).toBe('Access-Accept');
    expect((await login(other, 'bob')).code).toBe('Access-Accept');

    const metrics = await (await fetch(`${replica.metricsUrl}/metrics`)).text();
    expect(metrics).toMatch(/^otpgate_ready 1$/m);
    expect(metrics).toMatch(/^otpgate_replication_degraded 1$/m);
    expect(Number(/^otpgate_replication_seconds_since_contact (\S+)$/m.exec(metrics)![1])).toBeGreaterThan(BUDGET);

    const onReplica = await status(replica);
    expect(onReplica.code).toBe(0);
    expect(onReplica.json).toMatchObject({ ready: true, status: 'degraded', checks: { replication: { ok: true, degraded: true }, radius: { ok: true } } });
    expect(onReplica.json.degraded).toEqual([expect.stringMatching(/^replication: no contact with the master/)]);
    const text = await replica.cli('status');
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/READY, DEGRADED/);
    expect(text.stdout).toMatch(/replication\s+degraded\s+no contact with the master/);
  });

  it('turns not-ready once its copy of the master is older than max_staleness_seconds, and keeps answering RADIUS', async () => {
    const stale = await eventually(
      'the replica to be past its staleness limit',
      async () => {
        const got = await readyz(replica);
        return got.code === 503 ? got : false;
      },
      (MAX_STALENESS + 10) * 1000,
      200,
    );
    expect(stale.body.status).toBe('not-ready');
    expect(stale.body.checks.replication).toMatchObject({ ok: false });
    expect(stale.body.checks.replication!.detail).toMatch(
      new RegExp(`^its copy of the master's state is \\d+ s old, past cluster.max_staleness_seconds \\(${MAX_STALENESS} s\\): no contact with the master for \\d+ s \\(budget ${BUDGET} s\\), 0 changes behind; still answering RADIUS from it; last error: `),
    );
    expect(stale.body.checks.store!.ok && stale.body.checks.radius!.ok).toBe(true);
    expect((await fetch(`${replica.metricsUrl}/healthz`)).status).toBe(200);
    const metrics = await (await fetch(`${replica.metricsUrl}/metrics`)).text();
    expect(metrics).toMatch(/^otpgate_ready 0$/m);
    expect(metrics).toMatch(/^otpgate_replication_degraded 1$/m);

    const onReplica = await status(replica);
    expect(onReplica.code).toBe(1);
    expect(onReplica.json).toMatchObject({ ready: false, status: 'not-ready', checks: { replication: { ok: false }, radius: { ok: true } } });
    const text = await replica.cli('status');
    expect(text.stdout).toMatch(/NOT READY/);
    expect(text.stdout).toMatch(/replication\s+NO\s+its copy of the master's state is/);

    // not ready is advice for a load balancer, not a refusal: the replica still answers from its last good state
    expect((await login(replica, 'carol')).code).toBe('Access-Accept');
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
    expect(back.body).toMatchObject({ status: 'ready', degraded: [], checks: { replication: { ok: true } } });
    expect(await replica.metric('otpgate_replication_degraded')).toBe(0);
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
