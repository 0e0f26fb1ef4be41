import { Writable } from 'node:stream';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { createLogger, type ReplicaEntry } from '@otpgate/core';
import { CLAIM_LIMIT, MAX_WAIT_SECONDS, ReplicationRefusal, STEP_REPORT_LIMIT, createReplicationApp, type ReplicationHandlers } from '../src/replication/api.js';

const NONCE = 'n'.repeat(24);
const REPLICA: ReplicaEntry = {
  name: 'r1',
  fingerprint: 'AA:BB',
  created_at: 0,
  expires_at: 0,
  revoked_at: null,
  last_seen_at: null,
  last_address: null,
  acked_seq: 0,
};
const JSON_BODY = { 'content-type': 'application/json' };

describe('the replication API refuses what does not fit its schemas and limits, before any handler runs', () => {
  let app: FastifyInstance;
  /** What reached the handlers, by endpoint. */
  let calls: Array<[string, unknown]>;
  const lines: Array<Record<string, unknown>> = [];
  /** The replica the next request comes from; undefined: a certificate never enrolled. */
  let caller: ReplicaEntry | undefined;
  /** Thrown by the step handler, when set. */
  let stepFailure: Error | undefined;

  const handlers: ReplicationHandlers = {
    identify: () => {
      if (!caller) throw new ReplicationRefusal(403, 'certificate stranger is not enrolled in this cluster');
      return caller;
    },
    changes: async (_replica, query, _req, reply) => {
      calls.push(['changes', query]);
      void reply.send({ kind: 'changes' });
    },
    snapshot: async (_replica, query, _req, reply) => {
      calls.push(['snapshot', query]);
      void reply.send({ kind: 'snapshot' });
    },
    steps: (replica, report) => {
      if (stepFailure) throw stepFailure;
      calls.push(['steps', { replica: replica.name, report }]);
      return report.steps.length;
    },
    claim: (_replica, claim) => {
      calls.push(['claim', claim]);
      return { claimed: true };
    },
    vpnCredential: (_replica, claim) => {
      calls.push(['vpn-credential', claim]);
      return { use: 'used', issued_by: 'passkey' };
    },
    push: (_replica, push) => {
      calls.push(['push', push]);
      return { refused: 'rate-limited' };
    },
    pushDecisions: (_replica, query) => {
      calls.push(['push-decisions', query]);
      return { decisions: [], now: 0 };
    },
    storeUnwritable: (reason) => void calls.push(['unwritable', reason]),
  };

  beforeAll(async () => {
    const sink = new Writable({ write: (chunk: Buffer, _enc, done) => done(void lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>)) });
    app = createReplicationApp(undefined, handlers, createLogger('info', 'test', sink));
    await app.ready();
  });
  afterAll(() => app.close());
  beforeEach(() => {
    calls = [];
    caller = REPLICA;
    stepFailure = undefined;
  });

  async function get(url: string): Promise<{ status: number; body: unknown }> {
    const response = await app.inject({ method: 'GET', url });
    return { status: response.statusCode, body: response.json() };
  }

  async function post(url: string, payload: string): Promise<{ status: number; body: unknown }> {
    const response = await app.inject({ method: 'POST', url, headers: JSON_BODY, payload });
    return { status: response.statusCode, body: response.json() };
  }

  it('passes a well-formed query on as numbers, with the defaults filled in', async () => {
    expect(await get(`/v1/changes?nonce=${NONCE}&after=17&wait=30`)).toEqual({ status: 200, body: { kind: 'changes' } });
    expect(await get(`/v1/changes?nonce=${NONCE}&after=0`)).toMatchObject({ status: 200 });
    expect(await get(`/v1/snapshot?nonce=${NONCE}`)).toMatchObject({ status: 200 });
    expect(calls).toEqual([
      ['changes', { nonce: NONCE, after: 17, wait: 30 }],
      ['changes', { nonce: NONCE, after: 0, wait: 0 }],
      ['snapshot', { nonce: NONCE, have: 0 }],
    ]);
  });

  it('refuses a request without a nonce with the way out: upgrade the replica', async () => {
    const { status, body } = await get('/v1/changes?after=0');
    expect(status).toBe(400);
    expect((body as { error: string }).error).toMatch(/carries no nonce: this master speaks feed format \d+; upgrade the replica/);
    expect(await get('/v1/snapshot?nonce=short')).toEqual({ status: 400, body: { error: 'query parameter nonce must be 16-64 characters of A-Z a-z 0-9 _ -' } });
    expect(calls).toEqual([]);
  });

  it.each([
    ['after missing', '', 'after', Number.MAX_SAFE_INTEGER],
    ['after negative', '&after=-1', 'after', Number.MAX_SAFE_INTEGER],
    ['after not whole', '&after=1.5', 'after', Number.MAX_SAFE_INTEGER],
    ['after in hex', '&after=0x10', 'after', Number.MAX_SAFE_INTEGER],
    ['after past the largest safe integer', '&after=9007199254740992', 'after', Number.MAX_SAFE_INTEGER],
    ['after given twice', '&after=1&after=2', 'after', Number.MAX_SAFE_INTEGER],
    ['wait over the longest poll', `&after=0&wait=${MAX_WAIT_SECONDS + 1}`, 'wait', MAX_WAIT_SECONDS],
    ['wait a word', '&after=0&wait=forever', 'wait', MAX_WAIT_SECONDS],
  ])('refuses a changes query with %s', async (_what, query, name, max) => {
    expect(await get(`/v1/changes?nonce=${NONCE}${query}`)).toEqual({ status: 400, body: { error: `query parameter ${name} must be an integer 0-${max}` } });
    expect(calls).toEqual([]);
    expect(lines.at(-1)).toMatchObject({ event: 'replication-refused', replica: 'r1', status: 400 });
  });

  it('takes a step report that fits its schema, with the lists it may leave out', async () => {
    const steps = [{ token_id: 1, last_step: 100, drift: 0 }];
    expect(await post('/v1/steps', JSON.stringify({ steps }))).toEqual({ status: 200, body: { accepted: 1 } });
    expect(calls).toEqual([['steps', { replica: 'r1', report: { steps, failures: [], buckets: [] } }]]);
  });

  it.each([
    ['a field it does not know', { steps: [], extra: 1 }],
    ['a token id as text', { steps: [{ token_id: '1', last_step: 100, drift: 0 }] }],
    ['a step before -1', { steps: [{ token_id: 1, last_step: -2, drift: 0 }] }],
    ['more steps than a report holds', { steps: Array.from({ length: 10_001 }, (_, i) => ({ token_id: i + 1, last_step: 1, drift: 0 })) }],
    ['no steps at all', { failures: [] }],
  ])('refuses a step report with %s', async (_what, report) => {
    const { status, body } = await post('/v1/steps', JSON.stringify(report));
    expect(status).toBe(400);
    expect((body as { error: string }).error).toMatch(/^bad step report: /);
    expect(calls).toEqual([]);
  });

  it('refuses a body that is not JSON, or not sent as JSON', async () => {
    expect(await post('/v1/steps', '{"steps": [')).toEqual({ status: 400, body: { error: 'request body is not JSON' } });
    const response = await app.inject({ method: 'POST', url: '/v1/steps', headers: { 'content-type': 'text/plain' }, payload: '{"steps":[]}' });
    expect(response.statusCode).toBe(415);
    expect(calls).toEqual([]);
  });

  it('refuses a body over the limit without reading it all', async () => {
    const big = JSON.stringify({ steps: [], pad: 'x'.repeat(STEP_REPORT_LIMIT) });
    expect(await post('/v1/steps', big)).toEqual({ status: 413, body: { error: 'request body too large' } });
    // a claim is three numbers: its own, much smaller limit
    const claim = JSON.stringify({ token_id: 1, last_step: 100, drift: 0, pad: 'x'.repeat(CLAIM_LIMIT) });
    expect(await post('/v1/claims', claim)).toEqual({ status: 413, body: { error: 'request body too large' } });
    expect(calls).toEqual([]);
  });

  it('takes a claim that fits its schema and refuses one that does not', async () => {
    expect(await post('/v1/claims', JSON.stringify({ token_id: 1, last_step: 100, drift: 0 }))).toEqual({ status: 200, body: { claimed: true } });
    const { status, body } = await post('/v1/claims', JSON.stringify({ token_id: 1 }));
    expect(status).toBe(400);
    expect((body as { error: string }).error).toMatch(/^bad claim: /);
    expect(calls).toEqual([['claim', { token_id: 1, last_step: 100, drift: 0 }]]);
  });

  it('takes the use of a VPN credential that fits its schema (a hash, never the password) and refuses one that does not', async () => {
    const use = { hash: 'a'.repeat(64), user_id: 7, client: 'vpn', request_key: 'r1' };
    expect(await post('/v1/vpn-credentials/use', JSON.stringify(use))).toEqual({ status: 200, body: { use: 'used', issued_by: 'passkey' } });
    const { status, body } = await post('/v1/vpn-credentials/use', JSON.stringify({ ...use, hash: 'vpn-PASSWORDINTHECLEAR' }));
    expect(status).toBe(400);
    expect((body as { error: string }).error).toMatch(/^bad VPN credential claim: /);
    expect(calls).toEqual([['vpn-credential', use]]);
  });

  it('takes a held login\'s push and a question for decisions that fit their schemas, and refuses what does not', async () => {
    const push = { request_key: 'nas|00ff|7', user_id: 7, client: 'vpn', client_address: '192.0.2.1', number: '42' };
    expect(await post('/v1/pushes', JSON.stringify(push))).toEqual({ status: 200, body: { refused: 'rate-limited' } });
    const { status, body } = await post('/v1/pushes', JSON.stringify({ ...push, number: '123' }));
    expect(status).toBe(400);
    expect((body as { error: string }).error).toMatch(/^bad push: /);
    expect(await post('/v1/pushes/decisions', JSON.stringify({ since: 5 }))).toEqual({ status: 200, body: { decisions: [], now: 0 } });
    expect((await post('/v1/pushes/decisions', JSON.stringify({ since: -1 }))).status).toBe(400);
    expect(calls).toEqual([
      ['push', push],
      ['push-decisions', { since: 5 }],
    ]);
  });

  it('refuses a certificate the registry does not know before reading anything, and names no endpoint it does not have', async () => {
    caller = undefined;
    expect(await get('/v1/snapshot')).toEqual({ status: 403, body: { error: 'certificate stranger is not enrolled in this cluster' } });
    caller = REPLICA;
    expect(await get('/v1/nothing?x=1')).toEqual({ status: 404, body: { error: 'no such endpoint: GET /v1/nothing' } });
    expect((await app.inject({ method: 'GET', url: '/v1/ping' })).statusCode).toBe(204);
    // a HEAD would run the long poll or build a snapshot for nothing
    expect((await app.inject({ method: 'HEAD', url: `/v1/changes?nonce=${NONCE}&after=0` })).statusCode).toBe(404);
    expect(calls).toEqual([]);
  });

  it('answers 503 when the disk refuses a write, and says so once through the handler, not as a bug', async () => {
    stepFailure = Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
    expect(await post('/v1/steps', JSON.stringify({ steps: [] }))).toEqual({
      status: 503,
      body: { error: 'the master cannot write its store: the disk holding the data folder is full' },
    });
    expect(calls).toEqual([['unwritable', 'the disk holding the data folder is full']]);
  });
});
