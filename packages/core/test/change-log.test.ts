import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CLI_ACTOR } from '../src/services/context.js';
import { readChanges } from '../src/store/change-log.js';
import { DATA_FILES } from '../src/store/store.js';
import { publishSteps } from '../src/store/token-state.js';
import { GENESIS_HASH, hashEntry, unseal, type ChangeEntry } from '@otpgate/shared';
import { SEED_BASE32, SEED_HEX, createFixture, type Fixture, hotPath } from './store-fixture.js';

let f: Fixture;
beforeEach(async () => {
  f = await createFixture();
});
afterEach(() => f.close());

const A = CLI_ACTOR;
const CLIENT_SECRET = 'client-shared-secret-4711';
const HW_SECRET_HEX = 'hex:' + Buffer.from('hardware-token-seed!').toString('hex');

function all(): ChangeEntry[] {
  return readChanges(f.store.db, f.store.sealKey, 0, 100_000);
}

function recompute(entry: ChangeEntry): string {
  const { hash: _hash, ...body } = entry;
  return hashEntry(body);
}

/** A little of everything an admin does, recording how far the log moved for each step. */
async function workload(): Promise<Array<[string, number]>> {
  const s = f.services;
  const repo = hotPath(f.store);
  const moves: Array<[string, number]> = [];
  const step = async (name: string, fn: () => unknown) => {
    const before = f.store.head().seq;
    await fn();
    moves.push([name, f.store.head().seq - before]);
  };
  let tokenId = 0;
  await step('group.add', () => s.groups.add({ name: 'vpn', attributes: [{ name: 'Filter-Id', value: 'vpn' }] }, A));
  await step('user.add', () => s.users.add({ username: 'alice', display_name: 'Alice Example', groups: ['vpn'] }, A));
  await step('token.add', () => (tokenId = s.tokens.add('alice', { secret: SEED_HEX }, A).token.id));
  await step('client.add', () => s.clients.add({ name: 'nas', address: '192.0.2.1', secret: CLIENT_SECRET }, A));
  await step('settings.set', () => s.settings.set('lockout.max_failures', '4', A));
  await step('hardware.add', () => s.tokens.addHardware({ serial: 'HW-1', secret: HW_SECRET_HEX }, A));
  await step('hardware.assign', () => s.tokens.assign('HW-1', 'alice', A));
  await step('user.update', () => s.users.update('alice', { email: 'alice@example.com' }, A));
  await step('consume', async () => {
    f.store.publishSteps = true;
    const alice = repo.findUser('alice')!;
    await repo.useStep(alice, alice.tokens.find((t) => t.id === tokenId)!, 1000, 0);
    publishSteps(f.store);
  });
  await step('user.unlock', () => s.users.unlock('alice', A));
  await step('token.remove', () => s.tokens.remove(tokenId, A));
  await step('client.remove', () => s.clients.remove('nas', A));
  return moves;
}

describe('the change log', () => {
  it('gets an entry for every change', async () => {
    const moves = await workload();
    expect(moves.filter(([, n]) => n < 1)).toEqual([]);
    expect(moves.find(([name]) => name === 'hardware.assign')?.[1]).toBe(2); // the user's token and the inventory entry
    const entries = all();
    expect(entries.map((e) => `${e.entity}:${e.op}`)).toEqual([
      'group:upsert', 'user:upsert', 'token:upsert', 'client:upsert', 'settings:upsert', 'hardware_token:upsert',
      'token:upsert', 'hardware_token:upsert', 'user:upsert', 'token_state:upsert', 'lockout:upsert', 'token:delete', 'client:delete',
    ]);
    expect(entries.filter((e) => e.op === 'delete').every((e) => e.data === null)).toBe(true);
    const tokenId = Number(entries.find((e) => e.entity === 'token')!.key);
    expect(entries.find((e) => e.entity === 'token_state')?.data).toEqual({ token_id: tokenId, last_step: 1000, drift: 0 });
  });

  it('is a hash chain: seq strictly increasing by one, prev_hash the previous hash, every hash recomputes', async () => {
    await workload();
    const entries = all();
    expect(entries.length).toBeGreaterThan(10);
    let previous = { seq: 0, hash: GENESIS_HASH };
    for (const e of entries) {
      expect(e.seq, `entry ${e.seq}`).toBe(previous.seq + 1);
      expect(e.prev_hash, `entry ${e.seq}`).toBe(previous.hash);
      expect(recompute(e), `entry ${e.seq}`).toBe(e.hash);
      expect(e.hash).toMatch(/^[0-9a-f]{64}$/);
      previous = e;
    }
    expect(f.store.head()).toEqual({ seq: previous.seq, hash: previous.hash });
    // paging
    expect(readChanges(f.store.db, f.store.sealKey, 2, 3).map((e) => e.seq)).toEqual([3, 4, 5]);
    expect(readChanges(f.store.db, f.store.sealKey, previous.seq, 10)).toEqual([]);
  });

  it('an edited stored entry no longer matches its hash', async () => {
    await workload();
    f.store.db.sqlite.prepare("update changes set payload = replace(payload, 'Alice Example', 'Mallory') where entity = 'user'").run();
    const edited = all().filter((e) => e.entity === 'user');
    expect(edited.length).toBeGreaterThan(0);
    for (const e of edited) expect(recompute(e)).not.toBe(e.hash);
  });

  it('seals secrets in changes.payload and the tables, returns them in clear from readChanges, never writes them in clear', async () => {
    await workload();
    const hwSecret = f.services.tokens.findHardware('HW-1')!.secret;
    const secrets = [SEED_BASE32, CLIENT_SECRET, hwSecret];

    const entries = all();
    const secretOf = (entity: string) => entries.filter((e) => e.entity === entity && e.data !== null).map((e) => (e.data as { secret: string }).secret);
    expect(secretOf('token')).toEqual([SEED_BASE32, hwSecret]); // the second is the assigned hardware token's copy
    expect(secretOf('client')).toEqual([CLIENT_SECRET]);
    expect(secretOf('hardware_token')).toEqual([hwSecret, hwSecret]);

    const payloads = f.store.db.sqlite
      .prepare("select seq, entity, payload from changes where entity in ('token', 'client', 'hardware_token') and payload is not null")
      .all() as Array<{ seq: number; entity: string; payload: string }>;
    expect(payloads).toHaveLength(5);
    for (const { seq, entity, payload } of payloads) {
      const sealed = (JSON.parse(payload) as { secret: string }).secret;
      expect(sealed).toMatch(/^v1\./);
      const clear = (entries.find((e) => e.seq === seq)!.data as { secret: string }).secret;
      expect(unseal(f.store.sealKey, sealed, `change:${entity}.secret`).toString()).toBe(clear);
      for (const s of secrets) expect(payload).not.toContain(s);
    }
    const sealedTokens = f.store.db.sqlite.prepare('select secret_sealed from hardware_tokens union all select secret_sealed from clients').all() as Array<{ secret_sealed: string }>;
    for (const row of sealedTokens) expect(row.secret_sealed).toMatch(/^v1\./);

    // the token table itself, before the token was removed
    const { token } = f.services.tokens.add('alice', { secret: SEED_HEX }, A);
    const row = f.store.db.sqlite.prepare('select secret_sealed from tokens where id = ?').get(token.id) as { secret_sealed: string };
    expect(row.secret_sealed).toMatch(/^v1\./);
    expect(unseal(f.store.sealKey, row.secret_sealed, 'token-secret').toString()).toBe(SEED_BASE32);

    // and the bytes on disk: database and write-ahead log
    f.store.db.sqlite.pragma('wal_checkpoint(FULL)');
    const base = join(f.store.dataDir, DATA_FILES.database);
    const files = [base, `${base}-wal`].filter(existsSync).map((p) => readFileSync(p));
    const onDisk = Buffer.concat(files);
    expect(onDisk.includes('Alice Example')).toBe(true); // the scan does see what is stored in clear
    for (const s of secrets) {
      expect(onDisk.includes(s), s).toBe(false);
      expect(onDisk.includes(Buffer.from(s).toString('base64')), s).toBe(false);
    }
    expect(onDisk.includes(Buffer.from('12345678901234567890'))).toBe(false);
    expect(onDisk.includes(Buffer.from('hardware-token-seed!'))).toBe(false);
  });
});
