import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ATTR, CODE } from '@otpgate/core';
import { TestNode, type LogLine } from './helpers/test-node.js';
import { awaitFreshStep, totpCode, wrongCode } from './helpers/otp.js';
import { RawClient, accessRequest } from './helpers/raw-radius.js';

const SECRET = 'testing123';
const WORKERS = 4;

/** Each request from its own socket (its own source port): the kernel spreads them over the RADIUS threads. */
async function fromManyPorts(node: TestNode, packets: Buffer[]): Promise<Array<Buffer | undefined>> {
  const clients = await Promise.all(packets.map(() => RawClient.open()));
  try {
    clients.forEach((c, i) => c.send(packets[i]!, node.port));
    return await Promise.all(clients.map((c) => c.next(3000)));
  } finally {
    for (const c of clients) c.close();
  }
}

const code = (answer: Buffer | undefined) => answer?.[0];

/** The value of an attribute of an answer. */
function attribute(answer: Buffer, type: number): Buffer | undefined {
  for (let at = 20; at + 2 <= answer.length; at += answer[at + 1]!) if (answer[at] === type) return answer.subarray(at + 2, at + answer[at + 1]!);
  return undefined;
}

describe(`RADIUS on ${WORKERS} worker threads`, () => {
  let node: TestNode;
  const secrets: Record<string, string> = {};

  beforeAll(async () => {
    node = await TestNode.create('workers', { radius: `  workers: ${WORKERS}\n` });
    await node.addClient('local', '127.0.0.1', SECRET);
    secrets.alice = await node.addUserWithToken('alice', 'alice-password');
    secrets.bob = await node.addUserWithToken('bob', 'bob-password', '--mode', 'challenge');
    secrets.carol = await node.addUserWithToken('carol', 'carol-password');
    secrets.dave = await node.addUserWithToken('dave', 'dave-password');
    await node.start();
  });
  afterAll(async () => {
    await node?.stop();
  });

  it('starts the configured number of threads, on one port', async () => {
    expect(await node.metric('otpgate_radius_workers')).toBe(WORKERS);
    expect(node.logs().filter((l) => l.msg === 'RADIUS listening')).toHaveLength(1);
  });

  it('one code, one Accept: the same password+code from 40 source ports at once', async () => {
    await awaitFreshStep();
    const password = `alice-password${totpCode(secrets.alice!)}`;
    const mark = node.logs().length;
    const answers = await fromManyPorts(node, Array.from({ length: 40 }, () => accessRequest({ username: 'alice', password, secret: SECRET })));
    expect(answers.filter((a) => code(a) === CODE.ACCESS_ACCEPT)).toHaveLength(1);
    expect(answers.filter((a) => code(a) === CODE.ACCESS_REJECT)).toHaveLength(39);
    // the requests were spread: more than one thread worked on them
    const threads = new Set((await node.authLinesAfter(mark, 40)).map((l) => l.worker));
    expect(threads.size).toBeGreaterThan(1);
  });

  it('a burst of 120 guesses across threads meets the lock: the right code, 10th, gets no Accept', async () => {
    await awaitFreshStep();
    const right = `carol-password${totpCode(secrets.carol!)}`;
    const wrong = `carol-password${wrongCode(secrets.carol!)}`;
    const answers = await fromManyPorts(node, Array.from({ length: 120 }, (_, i) => accessRequest({ username: 'carol', password: i === 9 ? right : wrong, secret: SECRET })));
    expect(answers.filter((a) => code(a) === CODE.ACCESS_ACCEPT)).toHaveLength(0);
    const shown = JSON.parse(await node.cliOk('user', 'show', 'carol', '--json')) as { locked_until: number | null; failures: number };
    expect(shown.locked_until).toBeGreaterThan(Date.now());
    // counted once per failure, across every thread; at most one per thread can slip past the limit
    expect(shown.failures).toBeGreaterThanOrEqual(5);
  });

  it('an Access-Challenge answered from another source port (another thread) is accepted', async () => {
    await awaitFreshStep(15);
    const threadsSeen: Array<[unknown, unknown]> = [];
    for (let i = 0; i < 6; i++) {
      const [asking, answering] = [await RawClient.open(), await RawClient.open()];
      try {
        const mark = node.logs().length;
        asking.send(accessRequest({ username: 'bob', password: 'bob-password', secret: SECRET, identifier: i }), node.port);
        const challenge = await asking.next(3000);
        expect(code(challenge)).toBe(CODE.ACCESS_CHALLENGE);
        const state = attribute(challenge!, ATTR.STATE)!;
        const stateAttr = Buffer.concat([Buffer.from([ATTR.STATE, state.length + 2]), state]);
        // one code per step: the answers after the first are replays, and say so; the State is what is tested here
        answering.send(accessRequest({ username: 'bob', password: totpCode(secrets.bob!), secret: SECRET, extra: [stateAttr] }), node.port);
        const answer = await answering.next(3000);
        expect(code(answer), `round ${i}`).toBe(i === 0 ? CODE.ACCESS_ACCEPT : CODE.ACCESS_REJECT);
        // two threads write their lines in any order, each when its thread forwards them
        const bobs = (l: LogLine) => node.logs().indexOf(l) >= mark && l.event === 'auth' && l.user === 'bob';
        const asked = await node.waitForLog((l) => bobs(l) && l.result === 'challenge');
        const answered = await node.waitForLog((l) => bobs(l) && l.result !== 'challenge');
        expect(answered.reason ?? answered.result).toBe(i === 0 ? 'accept' : 'replay');
        threadsSeen.push([asked.worker, answered.worker]);
      } finally {
        asking.close();
        answering.close();
      }
    }
    expect(threadsSeen.some(([a, b]) => a !== b)).toBe(true);
  });

  it('a settings change reaches every thread: a reject carries its reason once reveal_reject_reason is on', async () => {
    await node.cliOk('settings', 'set', 'auth.reveal_reject_reason', 'true');
    // every thread reloads within its 50 ms check; a little margin for a busy machine
    await new Promise((resolve) => setTimeout(resolve, 500));
    const mark = node.logs().length;
    const answers = await fromManyPorts(node, Array.from({ length: 40 }, () => accessRequest({ username: 'nobody', password: '123456', secret: SECRET })));
    expect(answers.every((a) => code(a) === CODE.ACCESS_REJECT && attribute(a!, ATTR.REPLY_MESSAGE)?.toString() === 'no such user')).toBe(true);
    const threads = new Set((await node.authLinesAfter(mark, 40)).map((l) => l.worker));
    expect(threads.size).toBeGreaterThan(1);
    await node.cliOk('settings', 'set', 'auth.reveal_reject_reason', 'false');
  });

  it('one /metrics for the node: the requests of every thread, added up', async () => {
    const counted = await node.metric('otpgate_radius_requests_total', { code: 'access-request' });
    // every request counted has its auth line, which may still be on its way
    expect((await node.authLinesAfter(0, counted)).length).toBe(counted);
  });

  it('keeps log lines whole: every line the threads wrote is one JSON object', () => {
    expect(node.logs().filter((l) => l.level === 'raw')).toEqual([]);
  });

  it('answers a retransmission byte for byte after the threads restarted (duplicate cache gone): the same Accept', async () => {
    await awaitFreshStep();
    const client = await RawClient.open();
    try {
      const packet = accessRequest({ username: 'dave', password: `dave-password${totpCode(secrets.dave!)}`, secret: SECRET, identifier: 99 });
      client.send(packet, node.port);
      const first = await client.next(3000);
      expect(code(first)).toBe(CODE.ACCESS_ACCEPT);
      await node.stop();
      await node.start();
      client.send(packet, node.port);
      const again = await client.next(3000);
      expect(again).toEqual(first);
      // and another request with the same code is still a replay
      const other = await RawClient.open();
      other.send(accessRequest({ username: 'dave', password: `dave-password${totpCode(secrets.dave!)}`, secret: SECRET }), node.port);
      expect(code(await other.next(3000))).toBe(CODE.ACCESS_REJECT);
      other.close();
    } finally {
      client.close();
    }
  });
});
