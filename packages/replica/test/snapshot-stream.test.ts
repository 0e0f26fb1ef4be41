import { createReadStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPair } from 'jose';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  CLI_ACTOR,
  Store,
  createLogger,
  createServices,
  loadDictionary,
  newSnapshotPath,
  writeSnapshotFile,
  type WrittenSnapshot,
} from '@otpgate/core';
import { applySnapshotFile } from '@otpgate/core/testing';
import { FeedError, SNAPSHOT_ENTITIES, newFeedNonce, signFeed, verifyFeedDigest } from '@otpgate/shared';
import { checkAnnouncedSize, receiveSnapshot } from '@otpgate/replica';

const { privateKey, publicKey } = await generateKeyPair('Ed25519');
const A = CLI_ACTOR;

let dir: string;
let master: Store;
let replica: Store;
let clusterId: string;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'otpgate-unit-snapshot-'));
  master = await Store.create(join(dir, 'master'));
  clusterId = master.getMeta('cluster_id')!;
  replica = await Store.create(join(dir, 'replica'));
  replica.setRole('replica');
  const s = createServices({ store: master, dictionary: loadDictionary(), logger: createLogger('silent', 'test') });
  s.groups.add({ name: 'vpn', attributes: [{ name: 'Filter-Id', value: 'vpn' }] }, A);
  for (let i = 0; i < 30; i++) {
    await s.users.add({ username: `user${i}`, display_name: `User ${i} "quoted"\nnewline`, groups: i % 2 ? ['vpn'] : [] }, A);
    s.tokens.add(`user${i}`, {}, A);
  }
  s.clients.add({ name: 'nas', address: '192.0.2.1', secret: 'client-shared-secret-4711' }, A);
  await s.admins.setPassword('admin', 'admin-password-1234', A);
  master.commit([{ entity: 'token_state', op: 'upsert', data: { token_id: s.tokens.list('user3')[0]!.id, last_step: 90_000_000, drift: 1 } }]);
});
afterEach(() => {
  master.close();
  replica.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The master's side: a snapshot file, and its digest signed for a request's nonce. */
async function masterSends(): Promise<{ written: WrittenSnapshot; signature: string; nonce: string }> {
  const written = writeSnapshotFile(master, clusterId, newSnapshotPath(master.dataDir, 'outgoing'));
  const nonce = newFeedNonce();
  return { written, nonce, signature: await signFeed(written.digest, { nonce }, privateKey, clusterId) };
}

/** The replica's side: `body` received into a file, hashed as it came, the signature checked against that digest. */
async function replicaReceives(body: string | Buffer, sent: { signature: string; nonce: string }, maxBytes = 1 << 30): Promise<string> {
  const source = join(dir, 'wire');
  writeFileSync(source, body);
  const path = newSnapshotPath(replica.dataDir, 'incoming');
  const received = await receiveSnapshot(createReadStream(source, { highWaterMark: 64 }), path, maxBytes);
  await verifyFeedDigest(received.digest, sent.signature, publicKey, clusterId, sent.nonce);
  return path;
}

async function failure(promise: Promise<unknown> | (() => unknown)): Promise<FeedError> {
  const err = await (typeof promise === 'function' ? Promise.resolve().then(promise) : promise).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(FeedError);
  return err as FeedError;
}

/** Every replicated record of the replica, to show nothing changed. */
const everything = (store: Store) => SNAPSHOT_ENTITIES.map((entity) => store.readAll(entity));

describe('a streamed snapshot', () => {
  it('goes from the master\'s tables through a file, the wire and a file to the replica\'s tables, record by record', async () => {
    const sent = await masterSends();
    const lines = readFileSync(sent.written.path, 'utf8').split('\n');
    expect(JSON.parse(lines[0]!)).toMatchObject({ kind: 'snapshot', format: 3, cluster_id: clusterId, head: master.head() });
    expect(JSON.parse(lines.at(-2)!)).toEqual({ kind: 'end', records: lines.length - 3, counts: sent.written.counts });
    expect(sent.written.counts).toMatchObject({ user: 30, token: 30, group: 1, client: 1, admin: 1, settings: 1, token_state: 1 });

    const path = await replicaReceives(readFileSync(sent.written.path), sent);
    const applied = applySnapshotFile(replica, path, clusterId);
    expect(applied).toEqual({ head: master.head(), counts: sent.written.counts });
    expect(replica.head()).toEqual(master.head());
    expect(everything(replica)).toEqual(everything(master));
  });

  it('refuses a line changed on the way: the digest no longer matches the signature, before anything is read', async () => {
    const sent = await masterSends();
    const tampered = readFileSync(sent.written.path, 'utf8').replace('"username":"user7"', '"username":"mallory"');
    expect((await failure(replicaReceives(tampered, sent))).reason).toBe('bad-signature');
  });

  it('refuses a body cut short: by the signature, and by the file itself where none is checked (nothing applied)', async () => {
    const sent = await masterSends();
    const body = readFileSync(sent.written.path);
    expect((await failure(replicaReceives(body.subarray(0, body.length - 10), sent))).reason).toBe('bad-signature');

    const before = everything(replica);
    const lines = body.toString('utf8').split('\n');
    const cuts = {
      'no end line': lines.slice(0, -2).join('\n') + '\n',
      'in the middle of a line': body.subarray(0, body.length - 10),
      'a line lost': [...lines.slice(0, -3), ...lines.slice(-2)].join('\n'),
    };
    for (const [what, cut] of Object.entries(cuts)) {
      const path = join(dir, `cut-${what}`);
      writeFileSync(path, cut);
      const err = await failure(() => applySnapshotFile(replica, path, clusterId));
      expect(err.reason, what).toBe('malformed');
      expect(err.message, what).toMatch(/cut short|lines lost/);
    }
    expect(everything(replica)).toEqual(before);
    expect(replica.head().seq).toBe(0);
  });

  it('refuses records out of order, another cluster\'s snapshot and another feed format', async () => {
    const sent = await masterSends();
    const lines = readFileSync(sent.written.path, 'utf8').split('\n');
    const group = lines.findIndex((l) => l.startsWith('{"entity":"group"'));
    const swapped = [...lines];
    [swapped[group], swapped[group + 1]] = [swapped[group + 1]!, swapped[group]!];
    const cases: Array<[string, string[], string]> = [
      ['out of order', swapped, 'malformed'],
      ['another cluster', [lines[0]!.replace(clusterId, 'another-cluster'), ...lines.slice(1)], 'wrong-cluster'],
      ['another format', [lines[0]!.replace('"format":3', '"format":4'), ...lines.slice(1)], 'incompatible'],
    ];
    for (const [what, body, reason] of cases) {
      const path = join(dir, what);
      writeFileSync(path, body.join('\n'));
      expect((await failure(() => applySnapshotFile(replica, path, clusterId))).reason, what).toBe(reason);
    }
    expect(replica.head().seq).toBe(0);
  });

  it('refuses a body over the limit: announced too large, or growing past it', async () => {
    const sent = await masterSends();
    const size = sent.written.bytes;
    expect(() => checkAnnouncedSize(String(size), size)).not.toThrow();
    const announced = await failure(() => checkAnnouncedSize(String(size + 1), size));
    expect(announced.reason).toBe('too-large');
    expect(announced.message).toContain('cluster.max_snapshot_mb');
    expect((await failure(replicaReceives(readFileSync(sent.written.path), sent, size - 1))).reason).toBe('too-large');
  });
});
