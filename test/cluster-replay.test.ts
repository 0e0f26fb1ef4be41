import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent, request } from 'undici';
import { TestNode } from './helpers/test-node.js';
import { papRequest, radclient } from './helpers/radclient.js';
import { awaitFreshStep, totpCode } from './helpers/otp.js';

const SECRET = 'testing123';

interface TokenRow {
  id: number;
  last_step: number;
}

const token = async (node: TestNode, user: string): Promise<TokenRow> => (JSON.parse(await node.cliOk('token', 'list', user, '--json')) as TokenRow[])[0]!;
const currentStep = () => Math.floor(Date.now() / 30_000);

describe('replay steps reported by a replica, and an admin resetting them', () => {
  let master: TestNode;
  let replica: TestNode;
  let aliceSecret = '';
  let agent: Agent;

  /** POST /v1/steps as the replica would, with the replica's own enrolled client certificate. */
  async function report(steps: Array<{ token_id: number; last_step: number; drift: number }>): Promise<{ status: number; body: unknown }> {
    const response = await request(`https://127.0.0.1:${master.replicationPort}/v1/steps`, {
      dispatcher: agent,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ steps }),
    });
    return { status: response.statusCode, body: await response.body.json() };
  }

  /** Password + code on a node, and the auth line's result and reason. */
  async function login(node: TestNode, code: string): Promise<{ code: string; reason: unknown }> {
    const mark = await node.mark();
    const reply = await radclient(node.target, SECRET, papRequest('alice', `alice-password${code}`));
    return { code: reply.code, reason: (await node.authAfter(mark, 'alice')).reason };
  }

  beforeAll(async () => {
    master = await TestNode.createMaster('replay-master');
    await master.addClient('local', '127.0.0.1', SECRET);
    aliceSecret = await master.addUserWithToken('alice', 'alice-password');
    await master.start();
    replica = await TestNode.createReplica('replay-replica', master);
    await replica.start();
    await replica.waitForApplied(await master.headSeq());
    const cluster = join(replica.dir, 'data', 'cluster');
    const file = (name: string) => readFileSync(join(cluster, name), 'utf8');
    agent = new Agent({ connect: { ca: file('ca.crt'), cert: file('client.crt'), key: file('client.key') } });
  });
  afterAll(async () => {
    await agent?.close();
    await Promise.all([master?.stop(), replica?.stop()]);
  });

  it('refuses an absurd step from an enrolled replica: not stored, not published, counted; codes keep working everywhere', async () => {
    const { id } = await token(master, 'alice');
    const headBefore = await master.headSeq();
    const refusedBefore = await master.metric('otpgate_step_reports_refused_total', { reason: 'outside-window' });
    const answer = await report([{ token_id: id, last_step: Number.MAX_SAFE_INTEGER, drift: 0 }]);
    expect(answer).toEqual({ status: 200, body: { accepted: 0 } });
    expect(await master.metric('otpgate_step_reports_refused_total', { reason: 'outside-window' })).toBe(refusedBefore + 1);
    expect(await master.waitForLog((l) => l.event === 'step-report-refused')).toMatchObject({ replica: 'replay-replica', token_id: id, reason: 'outside-window' });
    expect((await token(master, 'alice')).last_step).toBeLessThan(currentStep() + 10);
    // nothing went into the feed for it
    expect(await master.headSeq()).toBe(headBefore);

    await awaitFreshStep(12);
    expect(await login(master, totpCode(aliceSecret))).toEqual({ code: 'Access-Accept', reason: null });
    await replica.waitForApplied(await master.headSeq());
    expect(await login(replica, totpCode(aliceSecret, 1))).toEqual({ code: 'Access-Accept', reason: null });
    expect((await token(replica, 'alice')).last_step).toBeLessThan(currentStep() + 10);
  });

  it('resets a token whose step was pushed ahead (as far as its window allows): codes work again on the master and the replica', async () => {
    const { id } = await token(master, 'alice');
    await master.cliOk('token', 'window', String(id), '--past', '1', '--future', '10');
    const ahead = currentStep() + 10;
    expect(await report([{ token_id: id, last_step: ahead, drift: 0 }])).toEqual({ status: 200, body: { accepted: 1 } });
    await replica.waitForApplied(await master.headSeq());
    expect((await token(replica, 'alice')).last_step).toBe(ahead);
    await awaitFreshStep(15);
    expect(await login(master, totpCode(aliceSecret))).toEqual({ code: 'Access-Reject', reason: 'replay' });
    expect(await login(replica, totpCode(aliceSecret))).toEqual({ code: 'Access-Reject', reason: 'replay' });

    expect(await master.cliOk('token', 'reset-replay', String(id))).toContain('used codes forgotten on every node');
    // audited like every admin action (the command's own log line, kept in cli.log)
    expect(readFileSync(join(master.dir, 'cli.log'), 'utf8')).toMatch(new RegExp(`"action":"token\\.reset-replay","target":"${id}"`));
    expect((await token(master, 'alice')).last_step).toBe(-1);
    await replica.waitForApplied(await master.headSeq());
    expect((await token(replica, 'alice')).last_step).toBe(-1);
    expect(await login(replica, totpCode(aliceSecret))).toEqual({ code: 'Access-Accept', reason: null });
    // the step used on the replica reaches the master: that code is a replay there, the next one is fine
    await expect.poll(async () => (await token(master, 'alice')).last_step, { timeout: 10_000 }).toBe(currentStep());
    expect(await login(master, totpCode(aliceSecret))).toEqual({ code: 'Access-Reject', reason: 'replay' });
    expect(await login(master, totpCode(aliceSecret, 1))).toEqual({ code: 'Access-Accept', reason: null });
  });
});
