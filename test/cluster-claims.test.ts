import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CODE } from '@otpgate/core';
import { TestNode } from './helpers/test-node.js';
import { awaitFreshStep, totpCode, wrongCode } from './helpers/otp.js';
import { RawClient, accessRequest } from './helpers/raw-radius.js';
import { eventually } from './helpers/eventually.js';

const SECRET = 'testing123';

/** Send each packet from its own socket to its node, all at once; the answers in order. */
async function atOnce(sends: Array<{ node: TestNode; packet: Buffer }>): Promise<Array<number | undefined>> {
  const clients = await Promise.all(sends.map(() => RawClient.open()));
  try {
    clients.forEach((c, i) => c.send(sends[i]!.packet, sends[i]!.node.port));
    return (await Promise.all(clients.map((c) => c.next(3000)))).map((a) => a?.[0]);
  } finally {
    for (const c of clients) c.close();
  }
}

describe('one code, one Accept in the whole cluster; one lockout for the whole cluster', () => {
  let master: TestNode;
  let replica: TestNode;
  const secrets: Record<string, string> = {};
  const names = Array.from({ length: 6 }, (_, i) => `user${i}`);

  beforeAll(async () => {
    master = await TestNode.createMaster('claims-master');
    await master.addClient('local', '127.0.0.1', SECRET);
    for (const name of [...names, 'guessed', 'spread', 'later']) secrets[name] = await master.addUserWithToken(name, `${name}-password`);
    await master.start();
    replica = await TestNode.createReplica('claims-replica', master);
    await replica.start();
    await replica.waitForLog((l) => l.event === 'replication-snapshot');
  }, 180_000);
  afterAll(async () => {
    await Promise.all([master?.stop(), replica?.stop()]);
  });

  it('the same password+code sent to the master and a replica at the same instant: one Accept per user, never two (finding 11)', async () => {
    await awaitFreshStep();
    const sends = names.flatMap((name) => {
      const password = `${name}-password${totpCode(secrets[name]!)}`;
      return [master, replica].map((node) => ({ node, packet: accessRequest({ username: name, password, secret: SECRET }) }));
    });
    const answers = await atOnce(sends);
    for (let i = 0; i < names.length; i++) {
      const pair = answers.slice(2 * i, 2 * i + 2);
      expect(pair.filter((c) => c === CODE.ACCESS_ACCEPT), names[i]).toHaveLength(1);
      expect(pair.filter((c) => c === CODE.ACCESS_REJECT), names[i]).toHaveLength(1);
    }
    // the replica asked the master every time (whichever node won each race)
    const asked = (await replica.metric('otpgate_replay_claims_total', { result: 'claimed' })) + (await replica.metric('otpgate_replay_claims_total', { result: 'replay' }));
    expect(asked).toBeGreaterThan(0);
    expect(await replica.metric('otpgate_replay_claims_total', { result: 'unavailable' })).toBe(0);
  });

  it('failures counted on a replica lock the account on the master too, within a second or two', async () => {
    await awaitFreshStep();
    const wrong = `guessed-password${wrongCode(secrets.guessed!)}`;
    const answers = await atOnce(Array.from({ length: 6 }, () => ({ node: replica, packet: accessRequest({ username: 'guessed', password: wrong, secret: SECRET }) })));
    expect(answers.every((c) => c === CODE.ACCESS_REJECT)).toBe(true);
    await eventually(
      'the lock on the master',
      async () => ((JSON.parse(await master.cliOk('user', 'show', 'guessed', '--json')) as { locked_until: number | null }).locked_until ?? 0) > Date.now(),
      3000,
    );
    const mark = await master.mark();
    const [right] = await atOnce([{ node: master, packet: accessRequest({ username: 'guessed', password: `guessed-password${totpCode(secrets.guessed!)}`, secret: SECRET }) }]);
    expect(right).toBe(CODE.ACCESS_REJECT);
    expect(await master.authAfter(mark, 'guessed')).toMatchObject({ reason: 'locked' });
  });

  it('a burst spread over both nodes, the right code 10th on each, gets no Accept', async () => {
    await awaitFreshStep();
    const right = `spread-password${totpCode(secrets.spread!)}`;
    const wrong = `spread-password${wrongCode(secrets.spread!)}`;
    const sends = [master, replica].flatMap((node) =>
      Array.from({ length: 60 }, (_, i) => ({ node, packet: accessRequest({ username: 'spread', password: i === 9 ? right : wrong, secret: SECRET }) })),
    );
    const answers = await atOnce(sends);
    expect(answers.filter((c) => c === CODE.ACCESS_ACCEPT)).toHaveLength(0);
  });

  it('with the master down, a replica still accepts (best-effort), and says it could not claim', async () => {
    await master.stop();
    try {
      await awaitFreshStep();
      const [answer] = await atOnce([{ node: replica, packet: accessRequest({ username: 'later', password: `later-password${totpCode(secrets.later!)}`, secret: SECRET }) }]);
      expect(answer).toBe(CODE.ACCESS_ACCEPT);
      expect(await replica.metric('otpgate_replay_claims_total', { result: 'unavailable' })).toBeGreaterThan(0);
    } finally {
      await master.start();
    }
  });
});
