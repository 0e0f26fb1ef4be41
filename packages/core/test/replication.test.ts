import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CLI_ACTOR } from '../src/services/context.js';
import { readChanges, type ChangeHead } from '../src/store/change-log.js';
import { ReplicationDataError, applyEntries, applySnapshot as applyRecords } from '../src/store/replication.js';
import { Store } from '../src/store/store.js';
import { SNAPSHOT_ENTITIES, unseal, type SnapshotEntity } from '@otpgate/shared';
import { SEED_HEX, createFixture, type Fixture } from './store-fixture.js';

const A = CLI_ACTOR;

let master: Fixture;
let replica: Store;
let replicaDir: string;
beforeEach(async () => {
  master = await createFixture();
  replicaDir = mkdtempSync(join(tmpdir(), 'otpgate-unit-replica-'));
  replica = await Store.create(join(replicaDir, 'data'));
  replica.setRole('replica');
});
afterEach(() => {
  master.close();
  replica.close();
  rmSync(replicaDir, { recursive: true, force: true });
});

interface Snapshot {
  head: ChangeHead;
  records: Partial<Record<SnapshotEntity, unknown[]>>;
}

/** What a master's snapshot holds (writeSnapshotFile), by entity, through JSON as on the wire. */
function snapshotOf(store: Store): Snapshot {
  const records: Snapshot['records'] = {};
  for (const entity of SNAPSHOT_ENTITIES) records[entity] = store.readAll(entity);
  return JSON.parse(JSON.stringify({ head: store.head(), records })) as Snapshot;
}

/** Apply it as a snapshot file's records come: one entity after the other, in SNAPSHOT_ENTITIES order. */
function applySnapshot(store: Store, snapshot: Snapshot): void {
  applyRecords(store, snapshot.head, SNAPSHOT_ENTITIES.flatMap((entity) => (snapshot.records[entity] ?? []).map((data) => ({ entity, data }))));
}

/** A little of everything that replicates. */
async function fill(): Promise<void> {
  const s = master.services;
  s.groups.add({ name: 'vpn', attributes: [{ name: 'Filter-Id', value: 'vpn' }] }, A);
  s.groups.add({ name: 'admins' }, A);
  await s.users.add({ username: 'alice', display_name: 'Alice', groups: ['vpn', 'admins'], initial_login_until: 1_900_000_000_000 }, A);
  await s.users.add({ username: 'bob', auth_mode: 'code-only', attributes: [{ name: 'Session-Timeout', value: '3600' }] }, A);
  s.tokens.add('alice', { secret: SEED_HEX }, A);
  s.tokens.add('bob', {}, A);
  s.tokens.addHardware({ serial: 'HW-1', secret: 'hex:' + Buffer.from('hardware-token-seed!').toString('hex') }, A);
  s.tokens.assign('HW-1', 'bob', A);
  s.clients.add({ name: 'nas', address: '192.0.2.1', secret: 'client-shared-secret-4711' }, A);
  s.backends.save({ type: 'ldap', name: 'corp', servers: ['ldaps://dc1.example.com'], bind_dn: 'cn=svc', bind_password: 'ldap-bind-secret' }, A);
  s.settings.set('lockout.max_failures', '4', A);
  await s.admins.setPassword('admin', 'admin-password-1234', A);
  s.passkeys.add({ ...PASSKEY, user_id: s.users.get('alice').id }, A);
}

/** A passkey as the portal stores it after registration (public key only). */
const PASSKEY = {
  id: 'Y3JlZGVudGlhbC1pZC0x',
  public_key: 'cHVibGljLWtleQ',
  counter: 1,
  transports: ['internal' as const],
  passwordless: true,
  label: 'laptop',
  created_at: 1_800_000_000_000,
  last_used_at: null,
};

/** Every table a snapshot fills, row by row, sealed secrets opened (each node seals under its own key). */
function tables(store: Store): Record<string, unknown[]> {
  const db = store.db.sqlite;
  const open = (rows: Array<Record<string, unknown>>, context: string) =>
    rows.map(({ secret_sealed, ...rest }) => ({ ...rest, secret: unseal(store.sealKey, secret_sealed as string, context).toString() }));
  const settings = db.prepare('select document from settings').all() as Array<{ document: string }>;
  return {
    users: db.prepare('select * from users order by id').all(),
    groups: db.prepare('select * from groups order by id').all(),
    user_groups: db.prepare('select * from user_groups order by user_id, group_id').all(),
    tokens: open(db.prepare('select * from tokens order by id').all() as Array<Record<string, unknown>>, 'token-secret'),
    hardware_tokens: open(db.prepare('select * from hardware_tokens order by id').all() as Array<Record<string, unknown>>, 'hardware-token-secret'),
    clients: open(db.prepare('select * from clients order by id').all() as Array<Record<string, unknown>>, 'client-secret'),
    admins: db.prepare('select * from admins order by username').all(),
    passkeys: db.prepare('select * from passkeys order by id').all(),
    settings: settings.map(() => store.settings()),
  };
}

describe('a replica applying the master', () => {
  it('from a snapshot holds the same tables, secrets sealed under its own key, and the same records', async () => {
    await fill();
    applySnapshot(replica, snapshotOf(master.store));
    expect(tables(replica)).toEqual(tables(master.store));
    for (const entity of SNAPSHOT_ENTITIES) expect(replica.readAll(entity)).toEqual(master.store.readAll(entity));
    expect(replica.head()).toEqual(master.store.head());
    const sealed = (s: Store) => (s.db.sqlite.prepare('select secret_sealed from tokens order by id').all() as Array<{ secret_sealed: string }>)[0]!.secret_sealed;
    expect(sealed(replica)).not.toBe(sealed(master.store));
    expect(() => unseal(master.store.sealKey, sealed(replica), 'token-secret')).toThrow();
    expect(replica.read('user', String(master.services.users.get('alice').id))).toMatchObject({ initial_login_until: 1_900_000_000_000, groups: ['admins', 'vpn'] });
  });

  it('from change entries after a snapshot ends with the same tables', async () => {
    await fill();
    applySnapshot(replica, snapshotOf(master.store));
    const from = master.store.head().seq;
    const s = master.services;
    await s.users.add({ username: 'carol', groups: ['vpn'] }, A);
    s.users.update('alice', { display_name: 'Alice Example', groups: ['vpn'], initial_login_until: null }, A);
    s.tokens.remove(s.tokens.list('bob')[0]!.id, A);
    s.tokens.add('carol', {}, A);
    s.clients.remove('nas', A);
    s.groups.remove('admins', A);
    s.users.remove('bob', A);
    s.passkeys.recordUse(PASSKEY.id, 7);
    s.passkeys.add({ ...PASSKEY, id: 'Y3JlZGVudGlhbC1pZC0y', user_id: s.users.get('carol').id }, A);
    s.passkeys.remove('carol', 'Y3JlZGVudGlhbC1pZC0y', A);
    applyEntries(replica, readChanges(master.store.db, master.store.sealKey, from, 1000));
    expect(tables(replica)).toEqual(tables(master.store));
    expect(replica.read('passkey', PASSKEY.id)).toMatchObject({ counter: 7, passwordless: true, transports: ['internal'] });
    expect(replica.head()).toEqual(master.store.head());
  });

  it('from a snapshot takes the master\'s value for every step the master knew (a reset included) and keeps its own unreported ones', async () => {
    await fill();
    const [alice, bob] = [master.services.tokens.list('alice')[0]!.id, master.services.tokens.list('bob')[0]!.id];
    master.store.commit([{ entity: 'token_state', op: 'upsert', data: { token_id: alice, last_step: 90_000_000, drift: 0 } }]);
    applySnapshot(replica, snapshotOf(master.store));
    expect(replica.read('token_state', String(alice))).toMatchObject({ last_step: 90_000_000 });
    // bob's code accepted on the replica, not yet reported to the master
    replica.state.prepare('insert into token_state (token_id, last_step, drift, updated_at, reported) values (?, 50, 0, 0, 0)').run(bob);
    // the master forgets alice's step far ahead; the replica missed that entry (it re-syncs from a snapshot)
    master.services.tokens.resetReplay(alice, A);
    applySnapshot(replica, snapshotOf(master.store));
    expect(replica.read('token_state', String(alice))).toBeUndefined();
    expect(replica.read('token_state', String(bob))).toMatchObject({ last_step: 50 });
    master.store.commit([{ entity: 'token_state', op: 'upsert', data: { token_id: alice, last_step: 10, drift: 0 } }]);
    applySnapshot(replica, snapshotOf(master.store));
    expect(replica.read('token_state', String(alice))).toMatchObject({ last_step: 10 });
  });

  it('refuses a whole snapshot with one bad record, naming it, and keeps what it held', async () => {
    await fill();
    applySnapshot(replica, snapshotOf(master.store));
    const before = tables(replica);
    await master.services.users.add({ username: 'carol' }, A);
    const bad = snapshotOf(master.store);
    (bad.records.token![1] as { digits: number }).digits = 7;
    expect(() => applySnapshot(replica, bad)).toThrow(ReplicationDataError);
    expect(() => applySnapshot(replica, bad)).toThrow('snapshot token[1]: token record is invalid (digits:');
    // valid records that do not fit together (a user in a group the snapshot lacks) are refused as a whole too
    const orphan = snapshotOf(master.store);
    orphan.records.group = [];
    expect(() => applySnapshot(replica, orphan)).toThrow('refers to group "admins", which does not exist');
    expect(tables(replica)).toEqual(before);
  });
});

describe('Database.upsert', () => {
  it('inserts, updates every given column on conflict, and leaves out undefined values as kysely does', () => {
    const db = master.store.db;
    const row = { id: 7, name: 'ops', description: 'first', attributes: '[]' };
    db.upsert('groups', row, 'id');
    db.upsert('groups', { ...row, description: 'second', attributes: undefined }, 'id');
    db.upsert('groups', { id: 8, name: 'net', description: undefined, attributes: '[1]' }, 'id');
    expect(db.sqlite.prepare('select * from groups order by id').all()).toEqual([
      { id: 7, name: 'ops', description: 'second', attributes: '[]' },
      { id: 8, name: 'net', description: '', attributes: '[1]' },
    ]);
    expect(() => db.upsert('groups', { id: 9, name: 'OPS', description: '', attributes: '[]' }, 'id')).toThrow(/UNIQUE/);
  });
});
