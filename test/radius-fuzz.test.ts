import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prepareFuzzNode, type FuzzFixture } from '../bench/fuzz-fixture.js';
import { formatReport, runFuzz } from '../bench/fuzz-session.js';
import { TestNode } from './helpers/test-node.js';

/**
 * bench/fuzz.sh in small, with the same generator: 50,000 fuzzed datagrams (broken lengths, attributes of every size,
 * Message-Authenticators missing, wrong, doubled or late, Proxy-State and State floods, EAP fragments, odd
 * User-Passwords, truncated, padded and doubled packets, random bytes, other codes) from several ports of a client
 * that must send a Message-Authenticator, one that need not, and an address that is no client, with valid requests
 * among them whose answers are predicted. Fails on a node that exits, a wrong answer to a valid request, an answer
 * that is not signed for a datagram the server may answer, an error in the node's log, or no answer to Status-Server
 * at the end.
 */
describe('RADIUS server under structured fuzzing (fast-check)', () => {
  let node: TestNode;
  let fixture: FuzzFixture;

  beforeAll(async () => {
    node = await TestNode.create('fuzz');
    fixture = await prepareFuzzNode((args, input) => (input === undefined ? node.cliOk(...args) : node.cliInput(input, ...args)));
    for (const user of fixture.checkUsers) node.noteSecret(user.token.secret);
    await node.start();
  }, 120_000);
  afterAll(async () => {
    await node?.stop();
  });

  it('answers every valid request rightly among 50,000 fuzzed datagrams, stays up and still answers Status-Server', async () => {
    const report = await runFuzz({ port: node.port, pid: node.pid!, fixture, rate: 2500, dumpDir: node.dir }, { datagrams: 50_000 });
    console.log(formatReport(report));
    expect(report.failure).toBeUndefined();
    expect(report.crashed).toBeUndefined();
    expect(report.wrongAnswers).toEqual([]);
    expect(report.badAnswers).toEqual([]);
    expect(report.statusServer).toBeUndefined();
    // what a handler throws is caught and logged as an error, which is a defect all the same
    expect(node.logs().filter((l) => !['trace', 'debug', 'info', 'warn'].includes(l.level))).toEqual([]);
    expect(report.datagrams).toBeGreaterThanOrEqual(50_000);
    // the valid requests went all the way through the pipeline, and fuzzed ones were answered too
    expect(report.checks.accept).toBeGreaterThan(0);
    expect(report.checks.challenge).toBeGreaterThan(0);
    expect(report.fuzzAnswers).toBeGreaterThan(0);
  }, 300_000);
});
