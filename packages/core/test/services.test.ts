import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fromBase32 } from '../src/otp/secret.js';
import { codeAt, timeStep } from '../src/otp/verify.js';
import { CLI_ACTOR } from '../src/services/context.js';
import {
  ConflictError,
  InvalidInputError,
  NotFoundError,
  ReadOnlyReplicaError,
  ValidationError,
  parseWith,
  settingsSchema,
  errorMessage,
} from '@otpgate/shared';
import { SEED_BASE32, SEED_HEX, createFixture, type Fixture, hotPath } from './store-fixture.js';

let f: Fixture;
beforeEach(async () => {
  f = await createFixture();
});
afterEach(() => f.close());

const A = CLI_ACTOR;

function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('did not throw');
}

describe('users', () => {
  it('add, read back, refuse a duplicate (any case), an invalid name, an unknown group, a short password', async () => {
    f.services.groups.add({ name: 'vpn' }, A);
    const alice = await f.services.users.add({ username: 'alice', password: 'correct horse', display_name: 'Alice', groups: ['VPN'] }, A);
    expect(alice).toMatchObject({ username: 'alice', display_name: 'Alice', status: 'active', groups: ['vpn'], auth_mode: null });
    expect(alice.password_hash).toMatch(/^\$argon2id\$/);
    expect(f.services.users.get('alice')).toEqual(alice);
    await expect(f.services.users.add({ username: 'ALICE' }, A)).rejects.toThrow(ConflictError);
    await expect(f.services.users.add({ username: ' alice ' }, A)).rejects.toThrow('user "alice" already exists');
    await expect(f.services.users.add({ username: 'bad name' }, A)).rejects.toThrow(ValidationError);
    await expect(f.services.users.add({ username: 'bob', groups: ['nope'] }, A)).rejects.toThrow('groups: group "nope" does not exist');
    await expect(f.services.users.add({ username: 'bob', password: 'short' }, A)).rejects.toThrow('password: must be at least 8 characters');
    expect(f.services.users.find('bob')).toBeUndefined();
  });

  it('update changes only the fields given, validating attributes', async () => {
    await f.services.users.add({ username: 'alice', display_name: 'Alice', email: 'a@example.com' }, A);
    const updated = f.services.users.update('alice', { auth_mode: 'challenge', attributes: [{ name: 'Session-Timeout', value: '3600' }] }, A);
    expect(updated).toMatchObject({ display_name: 'Alice', email: 'a@example.com', auth_mode: 'challenge', attributes: [{ name: 'Session-Timeout', value: '3600' }] });
    const err = thrown(() => f.services.users.update('alice', { attributes: [{ name: 'Filter-Id', value: 'x' }, { name: 'Session-Timeout', value: 'forever' }] }, A));
    expect(err).toBeInstanceOf(InvalidInputError);
    expect(err.message).toBe('attributes[1]: attribute Session-Timeout: "forever" is not a number');
    expect(f.services.users.get('alice').attributes).toEqual([{ name: 'Session-Timeout', value: '3600' }]);
    expect(() => f.services.users.update('nobody', {}, A)).toThrow(NotFoundError);
  });

  it('disable, set and clear the password, remove', async () => {
    const repo = hotPath(f.store);
    await f.services.users.add({ username: 'alice', password: 'first-password' }, A);
    f.services.users.setStatus('alice', 'disabled', A);
    expect(f.services.users.get('alice').status).toBe('disabled');
    expect(repo.findUser('alice')?.status).toBe('disabled');
    const before = f.services.users.get('alice').password_hash;
    await f.services.users.setPassword('alice', 'second-password', A);
    expect(f.services.users.get('alice').password_hash).not.toBe(before);
    await f.services.users.setPassword('alice', null, A);
    expect(f.services.users.get('alice').password_hash).toBeNull();
    f.services.users.remove('alice', A);
    expect(f.services.users.find('alice')).toBeUndefined();
    expect(repo.findUser('alice')).toBeUndefined();
    expect(() => f.services.users.remove('alice', A)).toThrow('user "alice" does not exist');
  });

  it('never hands out an id again, even that of the newest user once removed', async () => {
    const first = await f.services.users.add({ username: 'alice' }, A);
    const second = await f.services.users.add({ username: 'bob' }, A);
    expect(second.id).toBe(first.id + 1);
    f.services.users.remove('bob', A);
    expect((await f.services.users.add({ username: 'carol' }, A)).id).toBe(second.id + 1);
  });
});

describe('tokens', () => {
  beforeEach(async () => {
    await f.services.users.add({ username: 'alice' }, A);
  });

  it('add with a given secret: stored as base32, usable by the auth repository, shown once as a URI', () => {
    const { token, uri } = f.services.tokens.add('alice', { secret: SEED_HEX, digits: 8 }, A);
    expect(token).toMatchObject({ kind: 'totp', algorithm: 'SHA1', digits: 8, period: 30, secret: SEED_BASE32, active: true, label: 'authenticator app' });
    expect(new URL(uri).searchParams.get('secret')).toBe(SEED_BASE32);
    expect(f.services.tokens.list('alice')).toMatchObject([{ id: token.id, username: 'alice', last_step: -1, drift: 0 }]);
    expect(f.services.tokens.list('alice')[0]).not.toHaveProperty('secret');
    const repo = hotPath(f.store);
    const [otp] = repo.findUser('alice')!.tokens;
    expect(otp?.key).toEqual(Buffer.from('12345678901234567890'));
    expect(codeAt(otp!, 1)).toBe('94287082'); // RFC 6238 at T = 59
  });

  it('generates a secret of the hash size when none is given; refuses a short one', () => {
    expect(fromBase32(f.services.tokens.add('alice', {}, A).token.secret)).toHaveLength(20);
    expect(fromBase32(f.services.tokens.add('alice', { algorithm: 'SHA512' }, A).token.secret)).toHaveLength(64);
    expect(() => f.services.tokens.add('alice', { secret: 'hex:' + '00'.repeat(15) }, A)).toThrow('secret: is 120 bits; at least 128 are required');
    expect(() => f.services.tokens.add('nobody', {}, A)).toThrow(NotFoundError);
  });

  it('disable, per-token window, resync, remove', () => {
    const repo = hotPath(f.store);
    const { token } = f.services.tokens.add('alice', { secret: SEED_HEX }, A);
    expect(repo.findUser('alice')!.tokens[0]).toMatchObject({ windowPast: 1, windowFuture: 1 });
    f.services.tokens.setWindow(token.id, 0, 3, A);
    expect(repo.findUser('alice')!.tokens[0]).toMatchObject({ windowPast: 0, windowFuture: 3 });
    f.services.settings.set('otp.window_past', '2', A);
    f.services.tokens.setWindow(token.id, null, null, A);
    expect(repo.findUser('alice')!.tokens[0]).toMatchObject({ windowPast: 2, windowFuture: 1 });
    expect(() => f.services.tokens.setWindow(token.id, 11, 0, A)).toThrow(ValidationError);

    const now = Date.now();
    const raw = timeStep({ t0: 0, period: 30 }, now);
    const key = { key: fromBase32(token.secret), algorithm: 'SHA1' as const, digits: 6 as const };
    f.services.tokens.resync(token.id, codeAt(key, raw + 5), codeAt(key, raw + 6), A, now);
    expect(f.services.tokens.list('alice')[0]).toMatchObject({ last_step: raw + 6, drift: 6 });
    expect(() => f.services.tokens.resync(token.id, codeAt(key, raw + 5), codeAt(key, raw + 7), A, now)).toThrow(
      'the two codes are not consecutive codes of this token within the resync window',
    );

    f.services.tokens.setActive(token.id, false, A);
    expect(repo.findUser('alice')!.tokens).toEqual([]);
    f.services.tokens.remove(token.id, A);
    expect(f.services.tokens.list('alice')).toEqual([]);
    expect(() => f.services.tokens.remove(token.id, A)).toThrow(NotFoundError);
  });

  it('reads one token by id, without the secret', async () => {
    await f.services.users.add({ username: 'bob' }, A);
    f.services.tokens.add('alice', { secret: SEED_HEX }, A);
    const { token } = f.services.tokens.add('bob', { secret: SEED_HEX, label: 'phone' }, A);
    const view = f.services.tokens.get(token.id);
    expect(view).toMatchObject({ id: token.id, username: 'bob', label: 'phone', last_step: -1 });
    expect(view).not.toHaveProperty('secret');
    expect(() => f.services.tokens.get(token.id + 100)).toThrow(NotFoundError);
    expect(() => f.services.tokens.get(Number('abc'))).toThrow(NotFoundError);
  });
});

describe('hardware tokens', () => {
  beforeEach(async () => {
    await f.services.users.add({ username: 'alice' }, A);
    await f.services.users.add({ username: 'bob' }, A);
  });

  it('inventory, assign, refuse double assignment and removal while assigned, unassign, remove', () => {
    const hw = f.services.tokens.addHardware({ serial: 'FT-0001', secret: SEED_HEX, digits: 8, manufacturer: 'Feitian', model: 'c200' }, A);
    expect(hw).toMatchObject({ serial: 'FT-0001', secret: SEED_BASE32, digits: 8, token_id: null });
    expect(() => f.services.tokens.addHardware({ serial: 'FT-0001', secret: SEED_HEX }, A)).toThrow(ConflictError);
    expect(() => f.services.tokens.addHardware({ serial: 'FT-0002' }, A)).toThrow('secret: a hardware token needs the secret');

    const token = f.services.tokens.assign('FT-0001', 'alice', A);
    expect(token).toMatchObject({ serial: 'FT-0001', secret: SEED_BASE32, digits: 8, label: 'Feitian c200', user_id: f.services.users.get('alice').id });
    expect(f.services.tokens.findHardware('FT-0001')?.token_id).toBe(token.id);
    expect(f.services.tokens.listHardware({ assigned: true })).toMatchObject([{ serial: 'FT-0001', assigned_to: 'alice' }]);
    expect(f.services.tokens.listHardware({ assigned: false })).toEqual([]);
    expect(() => f.services.tokens.assign('FT-0001', 'bob', A)).toThrow('hardware token FT-0001 is already assigned to alice; unassign it first');
    expect(() => f.services.tokens.removeHardware('FT-0001', A)).toThrow(ConflictError);

    f.services.tokens.unassign('FT-0001', A);
    expect(f.store.read('token', String(token.id))).toBeUndefined();
    expect(f.services.tokens.findHardware('FT-0001')?.token_id).toBeNull();
    expect(() => f.services.tokens.unassign('FT-0001', A)).toThrow('hardware token FT-0001 is not assigned');
    f.services.tokens.removeHardware('FT-0001', A);
    expect(f.services.tokens.findHardware('FT-0001')).toBeUndefined();
  });

  it('lists the inventory up to a limit, and refuses to assign a serial not in it', () => {
    for (const serial of ['HW-3', 'HW-1', 'HW-2']) f.services.tokens.addHardware({ serial, secret: SEED_HEX }, A);
    expect(f.services.tokens.listHardware({ assigned: false, limit: 2 }).map((h) => h.serial)).toEqual(['HW-1', 'HW-2']);
    // a search is text: _ and % match only themselves
    f.services.tokens.addHardware({ serial: 'HW_9', secret: SEED_HEX }, A);
    expect(f.services.tokens.listHardware({ search: 'W_' }).map((h) => h.serial)).toEqual(['HW_9']);
    expect(f.services.tokens.listHardware({ search: '%' })).toEqual([]);
    expect(() => f.services.tokens.assign('HW-404', 'alice', A)).toThrow(NotFoundError);
  });

  it('removing a user or the token returns the hardware token to the inventory', () => {
    f.services.tokens.addHardware({ serial: 'FT-0003', secret: SEED_HEX }, A);
    f.services.tokens.assign('FT-0003', 'bob', A);
    f.services.users.remove('bob', A);
    expect(f.services.tokens.findHardware('FT-0003')?.token_id).toBeNull();
    const token = f.services.tokens.assign('FT-0003', 'alice', A);
    f.services.tokens.remove(token.id, A);
    expect(f.services.tokens.findHardware('FT-0003')?.token_id).toBeNull();
  });
});

describe('clients', () => {
  const secret = 's3cret-s3cret';

  it('canonicalises addresses and blocks', () => {
    expect(f.services.clients.add({ name: 'vpn', address: '10.1.2.3/8', secret }, A).address).toBe('10.0.0.0/8');
    expect(f.services.clients.add({ name: 'v6', address: '2001:DB8:0:0::1/32', secret }, A).address).toBe('2001:db8::/32');
    expect(f.services.clients.add({ name: 'host', address: ' 192.0.2.10 ', secret }, A).address).toBe('192.0.2.10');
    expect(f.services.clients.add({ name: 'host6', address: '2001:db8:1:0:0:0:0:10', secret }, A).address).toBe('2001:db8:1::10');
    expect(f.store.readAll('client').map((c) => c.address)).toEqual(['10.0.0.0/8', '2001:db8::/32', '192.0.2.10', '2001:db8:1::10']);
  });

  it('refuses a short secret, a bad address, a duplicate address (after canonicalisation) or name', () => {
    f.services.clients.add({ name: 'vpn', address: '10.0.0.0/8', secret }, A);
    const short = thrown(() => f.services.clients.add({ name: 'other', address: '192.0.2.1', secret: 'short' }, A));
    expect(short).toBeInstanceOf(InvalidInputError);
    expect(short.message).toBe('secret: is 5 characters; use at least 8 (16+ random characters recommended)');
    expect(() => f.services.clients.add({ name: 'other', address: 'nas.example.com', secret }, A)).toThrow(
      'address: "nas.example.com" is not an IP address or CIDR block',
    );
    expect(() => f.services.clients.add({ name: 'other', address: '10.0.0.0/33', secret }, A)).toThrow('prefix length must be 0-32');
    const dup = thrown(() => f.services.clients.add({ name: 'other', address: '10.200.1.1/8', secret }, A));
    expect(dup).toBeInstanceOf(ConflictError);
    expect(dup.message).toBe('client "vpn" already has address 10.0.0.0/8');
    expect(() => f.services.clients.add({ name: 'vpn', address: '192.0.2.1', secret }, A)).toThrow('client "vpn" already exists');
    expect(() => f.services.clients.add({ name: ' VPN ', address: '192.0.2.1', secret }, A)).toThrow(ConflictError);
    expect(f.services.clients.list()).toHaveLength(1);
  });

  it('masks the secret in listings, updates, and removes', () => {
    f.services.clients.add({ name: 'vpn', address: '10.0.0.1', secret }, A);
    f.services.clients.add({ name: 'wifi', address: '10.0.0.2', secret }, A);
    expect(f.services.clients.list()[0]).toMatchObject({ name: 'vpn', secret: '******** (13 characters)', require_message_authenticator: true });
    expect(JSON.stringify(f.services.clients.list())).not.toContain(secret);
    expect(f.services.clients.get('vpn').secret).toBe(secret);
    const updated = f.services.clients.update('vpn', { require_message_authenticator: false, on_backend_error: 'drop', secret: 'another-secret' }, A);
    expect(updated).toMatchObject({ address: '10.0.0.1', require_message_authenticator: false, on_backend_error: 'drop', secret: 'another-secret' });
    expect(() => f.services.clients.update('vpn', { address: '10.0.0.2' }, A)).toThrow('client "wifi" already has address 10.0.0.2');
    expect(() => f.services.clients.update('vpn', { secret: 'short' }, A)).toThrow('secret: is 5 characters');
    f.services.clients.remove('vpn', A);
    expect(f.services.clients.list().map((c) => c.name)).toEqual(['wifi']);
  });
});

describe('groups', () => {
  it('stores reply attributes, refusing a bad one with a message naming it and its position', () => {
    const g = f.services.groups.add({ name: 'vpn', attributes: [{ name: 'Filter-Id', value: 'vpn-users' }, { name: 'Fortinet-Group-Name', value: ' forti ' }] }, A);
    expect(g.attributes).toEqual([{ name: 'Filter-Id', value: 'vpn-users' }, { name: 'Fortinet-Group-Name', value: 'forti' }]);
    const head = f.store.head();
    const unknown = thrown(() => f.services.groups.add({ name: 'ops', attributes: [{ name: 'Filter-Id', value: 'x' }, { name: 'Bogus-Attr', value: '1' }] }, A));
    expect(unknown).toBeInstanceOf(InvalidInputError);
    expect(unknown.message).toBe('attributes[1]: unknown attribute "Bogus-Attr" (not in the dictionary)');
    expect(() => f.services.groups.add({ name: 'ops', attributes: [{ name: 'Service-Type', value: 'Nonsense' }] }, A)).toThrow(
      /^attributes\[0\]: attribute Service-Type: "Nonsense" is not a number/,
    );
    expect(() => f.services.groups.add({ name: 'ops', attributes: [{ name: 'User-Password', value: 'x' }] }, A)).toThrow(
      'attributes[0]: User-Password cannot be set as a reply attribute',
    );
    expect(f.store.head()).toEqual(head);
    expect(f.services.groups.list().map((x) => x.name)).toEqual(['vpn']);
  });

  it('update, duplicate, bad name, remove', () => {
    f.services.groups.add({ name: 'vpn' }, A);
    expect(f.services.groups.update('vpn', { attributes: [{ name: 'Session-Timeout', value: '60' }] }, A).attributes).toEqual([
      { name: 'Session-Timeout', value: '60' },
    ]);
    expect(() => f.services.groups.update('vpn', { attributes: [{ name: 'Session-Timeout', value: 'x' }] }, A)).toThrow('Session-Timeout');
    expect(f.services.groups.get('vpn').attributes).toEqual([{ name: 'Session-Timeout', value: '60' }]);
    expect(() => f.services.groups.add({ name: 'VPN' }, A)).toThrow(ConflictError);
    expect(() => f.services.groups.add({ name: 'vpn ' }, A)).toThrow(ConflictError);
    expect(() => f.services.groups.add({ name: 'bad/name' }, A)).toThrow(ValidationError);
    f.services.groups.remove('vpn', A);
    expect(f.services.groups.find('vpn')).toBeUndefined();
  });
});

describe('settings', () => {
  it('set one value by path, JSON-typed', () => {
    expect(f.services.settings.set('lockout.max_failures', '3', A).lockout.max_failures).toBe(3);
    f.services.settings.set('auth.reveal_reject_reason', 'true', A);
    f.services.settings.set('otp.issuer', 'ACME Corp', A);
    expect(f.services.settings.get()).toMatchObject({ lockout: { max_failures: 3 }, auth: { reveal_reject_reason: true }, otp: { issuer: 'ACME Corp' } });
  });

  it('refuses a bad path or value with the schema messages, storing nothing', () => {
    const head = f.store.head();
    const before = f.services.settings.get();
    const cases: Array<[string, string, string]> = [
      ['nope.max', '1', 'settings is not valid:\n  - nope.max: unknown setting (no section "nope")'],
      ['lockout.bogus', '1', 'settings is not valid:\n  - lockout: unknown setting "bogus"'],
      ['bogus', '1', 'settings is not valid:\n  - (top level): unknown setting "bogus"'],
    ];
    for (const [path, value, message] of cases) {
      const err = thrown(() => f.services.settings.set(path, value, A));
      expect(err, path).toBeInstanceOf(ValidationError);
      expect(err.message, path).toBe(message);
    }
    for (const [path, value] of [['lockout.max_failures', '-1'], ['otp.digits', '7'], ['auth.default_mode', 'sometimes'], ['lockout', '5']]) {
      const err = thrown(() => f.services.settings.set(path!, value!, A)) as ValidationError;
      expect(err, path).toBeInstanceOf(ValidationError);
      // the same problems as validating the whole document, as the UI and imports do
      const document = structuredClone(before) as unknown as Record<string, Record<string, unknown>>;
      const [section, key] = path!.split('.');
      if (key === undefined) (document as Record<string, unknown>)[section!] = JSON.parse(value!);
      else document[section!]![key] = /^-?\d+$/.test(value!) ? Number(value) : value;
      const viaSchema = thrown(() => parseWith(settingsSchema, document, 'settings')) as ValidationError;
      expect(err.problems, path).toEqual(viaSchema.problems);
      expect(err.message, path).toBe(viaSchema.message);
      expect(thrown(() => f.services.settings.replace(document, A)).message, path).toBe(viaSchema.message);
    }
    expect(f.services.settings.get()).toEqual(before);
    expect(f.store.head()).toEqual(head);
  });

  it('a path cannot reach outside the settings document', () => {
    const before = f.services.settings.get();
    try {
      for (const [path, value] of [['__proto__.polluted', '1'], ['lockout.__proto__.polluted', '1'], ['constructor.prototype.polluted', '1'], ['otp.__proto__', '{"polluted":1}']]) {
        expect(() => f.services.settings.set(path!, value!, A), path).toThrow(ValidationError);
        expect(({} as Record<string, unknown>).polluted, path).toBeUndefined();
      }
      expect(f.services.settings.get()).toEqual(before);
    } finally {
      delete (Object.prototype as Record<string, unknown>).polluted;
    }
  });
});

describe('admin accounts', () => {
  it('a stamp that changes with every password set and is gone with the account; the built-in account stays', async () => {
    const admins = f.services.admins;
    await admins.setPassword('ops', 'ops-password-1', A);
    const first = admins.stamp('ops')!;
    expect(await admins.authenticate('ops', 'ops-password-1')).toEqual({ username: 'ops', stamp: first });
    expect(await admins.authenticate('ops', 'wrong-password')).toBeUndefined();
    expect(first).not.toContain(admins.find('ops')!.password_hash);
    await admins.setPassword('ops', 'ops-password-2', A);
    expect(admins.stamp('ops')).not.toBe(first);
    admins.remove('ops', A);
    expect(admins.stamp('ops')).toBeUndefined();
    expect(thrown(() => admins.remove('ops', A))).toBeInstanceOf(NotFoundError);
    await admins.setPassword('admin', 'admin-password-1', A);
    expect(thrown(() => admins.remove('admin', A))).toBeInstanceOf(InvalidInputError);
    expect(admins.list().map((a) => a.username)).toEqual(['admin']);
  });
});

describe('a replica', () => {
  it('refuses every admin write with ReadOnlyReplicaError naming the master, and changes nothing', async () => {
    const s = f.services;
    await s.users.add({ username: 'alice', password: 'alice-password' }, A);
    s.groups.add({ name: 'vpn' }, A);
    s.clients.add({ name: 'nas', address: '192.0.2.1', secret: 'nas-secret-123' }, A);
    const { token } = s.tokens.add('alice', { secret: SEED_HEX }, A);
    s.tokens.addHardware({ serial: 'HW-1', secret: SEED_HEX }, A);
    s.tokens.addHardware({ serial: 'HW-2', secret: SEED_HEX }, A);
    s.tokens.assign('HW-2', 'alice', A);

    f.store.setRole('replica');
    f.store.setMeta('master_url', 'https://master.example:8444');
    const head = f.store.head();
    const writes: Array<[string, () => unknown]> = [
      ['users.add', () => s.users.add({ username: 'bob' }, A)],
      ['users.update', () => s.users.update('alice', { display_name: 'A' }, A)],
      ['users.setPassword', () => s.users.setPassword('alice', 'new-password', A)],
      ['users.setStatus', () => s.users.setStatus('alice', 'disabled', A)],
      ['users.unlock', () => s.users.unlock('alice', A)],
      ['users.remove', () => s.users.remove('alice', A)],
      ['tokens.add', () => s.tokens.add('alice', {}, A)],
      ['tokens.setActive', () => s.tokens.setActive(token.id, false, A)],
      ['tokens.setWindow', () => s.tokens.setWindow(token.id, 2, 2, A)],
      ['tokens.resync', () => s.tokens.resync(token.id, '123456', '654321', A)],
      ['tokens.remove', () => s.tokens.remove(token.id, A)],
      ['tokens.addHardware', () => s.tokens.addHardware({ serial: 'HW-3', secret: SEED_HEX }, A)],
      ['tokens.assign', () => s.tokens.assign('HW-1', 'alice', A)],
      ['tokens.unassign', () => s.tokens.unassign('HW-2', A)],
      ['tokens.removeHardware', () => s.tokens.removeHardware('HW-1', A)],
      ['clients.add', () => s.clients.add({ name: 'nas2', address: '192.0.2.2', secret: 'nas-secret-123' }, A)],
      ['clients.update', () => s.clients.update('nas', { description: 'x' }, A)],
      ['clients.remove', () => s.clients.remove('nas', A)],
      ['groups.add', () => s.groups.add({ name: 'ops' }, A)],
      ['groups.update', () => s.groups.update('vpn', { description: 'x' }, A)],
      ['groups.remove', () => s.groups.remove('vpn', A)],
      ['settings.set', () => s.settings.set('lockout.max_failures', '3', A)],
      ['settings.replace', () => s.settings.replace({}, A)],
      ['admins.setPassword', () => s.admins.setPassword('admin', 'admin-password', A)],
      ['admins.remove', () => s.admins.remove('ops', A)],
      ['tokens.enrol', () => s.tokens.enrol('alice', { userId: 1, tokenIds: [token.id], additional: true }, {}, A)],
    ];
    for (const [name, write] of writes) {
      let error: unknown;
      try {
        await write();
      } catch (err) {
        error = err;
      }
      expect(error, name).toBeInstanceOf(ReadOnlyReplicaError);
      expect(errorMessage(error), name).toContain('https://master.example:8444');
    }
    expect(f.store.head()).toEqual(head);
    // reads still work
    expect(s.users.get('alice').status).toBe('active');
    expect(s.tokens.list('alice')).toHaveLength(2);
  });
});
