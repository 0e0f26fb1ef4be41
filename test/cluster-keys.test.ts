import { generateKeyPairSync } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestNode } from './helpers/test-node.js';
import type { CliResult } from './helpers/cli.js';

/** `otpgate serve` refused to start: one sentence on standard error, a non-zero exit, no stack trace. */
function expectOneSentence(r: CliResult, sentence: RegExp): void {
  expect(r.code).toBe(1);
  const lines = r.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(sentence);
  expect(r.stderr).not.toContain('unexpected error');
}

describe('a node whose feed key file is damaged or of the wrong kind', () => {
  let master: TestNode;
  let replica: TestNode;
  const clusterFile = (node: TestNode, name: string) => join(node.dir, 'data', 'cluster', name);

  beforeAll(async () => {
    master = await TestNode.createMaster('keys-master');
    replica = await TestNode.createReplica('keys-replica', master);
  });
  afterAll(async () => {
    await Promise.all([master?.stop(), replica?.stop()]);
  });

  it('a master with a truncated feed-signing key does not start, and names the file and the backup that has it', async () => {
    const path = clusterFile(master, 'feed-signing.jwk');
    const good = readFileSync(path, 'utf8');
    writeFileSync(path, good.slice(0, good.length / 2));
    const serve = await master.cli('serve');
    expectOneSentence(
      serve,
      new RegExp(`^otpgate: ${path.replace(/[.]/g, '\\.')} is not the cluster's Ed25519 private feed key \\(not JSON\\): put back the file from a backup made with --include-key`),
    );
    writeFileSync(path, good);
  });

  it('a replica whose feed key is of another type does not start, and says to enrol it again', async () => {
    const path = clusterFile(replica, 'feed-public.jwk');
    const p256 = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' });
    writeFileSync(path, JSON.stringify(p256));
    const serve = await replica.cli('serve');
    expectOneSentence(
      serve,
      new RegExp(
        `^otpgate: ${path.replace(/[.]/g, '\\.')} is not the cluster's Ed25519 public feed key \\(key type EC P-256, not OKP Ed25519\\): ` +
          'enrol this replica again \\("otpgate cluster add-replica NAME" on the master, then "otpgate replica join BUNDLE --force" here\\)$',
      ),
    );
  });

  it('a replica given the private half as its feed key does not start either', async () => {
    writeFileSync(clusterFile(replica, 'feed-public.jwk'), readFileSync(clusterFile(master, 'feed-signing.jwk')));
    expectOneSentence(await replica.cli('serve'), /is not the cluster's Ed25519 public feed key \(it holds a private key\): enrol this replica again/);
  });
});
