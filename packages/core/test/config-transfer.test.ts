
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ConfigDocument } from '../src/config-transfer/document.js';
import { documentChecksum } from '../src/config-transfer/envelope.js';
import { ConfigDocumentError, DamagedDocumentError, WrongPassphraseError } from '../src/config-transfer/errors.js';
import { CONFIG_MIGRATIONS, migrateConfigDocument } from '../src/config-transfer/migrations.js';
import { toBase32 } from '../src/otp/secret.js';
import { CLI_ACTOR } from '../src/services/context.js';
import { InvalidInputError, ValidationError } from '@otpgate/shared';
import { createFixture, type Fixture } from './store-fixture.js';

const A = CLI_ACTOR;
const PASSPHRASE = 'correct horse battery staple';
/** The smallest work factor the import accepts: fast tests; exports use 2^17 by default. */
const FAST = { passphrase: PASSPHRASE, scryptN: 2 ** 14 };
const secret = (n: number) => toBase32(Buffer.alloc(20, n));

let source: Fixture;
let target: Fixture;
beforeEach(async () => {
  source = await createFixture();
  target = await createFixture();
});
afterEach(() => {
  source.close();
  target.close();
});

/** A small but complete configuration: settings with a backend secret, groups, clients, users, tokens, inventory. */
async function populate(f: Fixture): Promise<void> {
  const s = f.services;
  s.settings.set('lockout.max_failures', '3', A);
  s.backends.save({ type: 'ldap', name: 'corp', servers: ['ldaps://dc1.example.com'], bind_dn: 'cn=svc', bind_password: 'ldap-bind-secret' }, A);
  s.groups.add({ name: 'vpn', attributes: [{ name: 'Filter-Id', value: 'vpn-users' }] }, A);
  s.clients.add({ name: 'gw', address: '192.0.2.10', secret: 'client-shared-secret', backends: ['corp'] }, A);
  await s.users.add({ username: 'alice', display_name: 'Alice', password: 'alice-password', groups: ['vpn'] }, A);
  await s.users.add({ username: 'bob', auth_mode: 'challenge' }, A);
  s.tokens.add('alice', { secret: secret(1), label: 'phone' }, A);
  s.tokens.addHardware({ serial: 'HW1', secret: secret(2), manufacturer: 'Feitian' }, A);
  s.tokens.assign('HW1', 'bob', A);
  s.tokens.addHardware({ serial: 'HW2', secret: secret(3) }, A);
}

const exportText = async (f: Fixture, options: { users?: boolean; secrets?: typeof FAST } = {}) =>
  JSON.stringify(await f.services.configTransfer.export({ generator: 'test', ...options }, A));

describe('config export', () => {
  it('without secrets: no client secret, backend password, password hash or token anywhere in the file', async () => {
    await populate(source);
    const text = await exportText(source, { users: true });
    for (const s of ['client-shared-secret', 'ldap-bind-secret', 'argon2', secret(1), secret(2)]) expect(text).not.toContain(s);
    const doc = JSON.parse(text) as ConfigDocument;
    expect(doc).toMatchObject({ format: 'otpgate-config', version: 1, contents: { users: true, secrets: false }, secrets: null });
    expect(doc.body.users?.map((u) => [u.username, u.has_password])).toEqual([['alice', true], ['bob', false]]);
    expect(doc.body.tokens).toBeUndefined();
    expect(doc.checksum).toBe(documentChecksum(doc as unknown as Record<string, unknown>));
  });

  it('with secrets: they are only in the encrypted section', async () => {
    await populate(source);
    const text = await exportText(source, { users: true, secrets: FAST });
    for (const s of ['client-shared-secret', 'ldap-bind-secret', 'argon2', secret(1), secret(2)]) expect(text).not.toContain(s);
    const doc = JSON.parse(text) as ConfigDocument;
    expect(doc.secrets).toMatchObject({ kdf: { name: 'scrypt', n: 2 ** 14, r: 8, p: 1, key_length: 32 }, cipher: 'aes-256-gcm' });
    expect(doc.body.hardware_tokens?.map((h) => [h.serial, h.assigned_to])).toEqual([['HW1', 'bob'], ['HW2', null]]);
  });

  it('a short passphrase is refused', async () => {
    await expect(source.services.configTransfer.export({ generator: 't', secrets: { passphrase: 'short' } }, A)).rejects.toThrow(/at least 12 characters/);
  });
});

describe('config import', () => {
  it('into a fresh node: everything, secrets included, arrives as it was', async () => {
    await populate(source);
    // alice's code of step 55,000,000 was used: after the move it must still count as used
    const used = source.store.readAll('token').find((x) => x.secret === secret(1))!;
    source.store.commit([{ entity: 'token_state', op: 'upsert', data: { token_id: used.id, last_step: 55_000_000, drift: 1 } }]);
    const text = await exportText(source, { users: true, secrets: FAST });
    const transfer = target.services.configTransfer;
    const opened = await transfer.open(text, PASSPHRASE);
    const dry = transfer.preview(opened);
    expect(dry).toMatchObject({
      source_version: 1,
      secrets_included: true,
      settings: { changed: true, sections: ['lockout', 'backends'] },
      groups: { new: ['vpn'] },
      clients: { new: ['gw'] },
      users: { new: ['alice', 'bob'] },
      tokens: { new: ['alice: phone', 'bob: Feitian (HW1)'] },
      hardware_tokens: { new: ['HW1', 'HW2'] },
      warnings: [],
    });
    expect(target.services.users.find('alice')).toBeUndefined();
    const head = target.store.headSeq();
    const applied = transfer.apply(opened, A);
    expect(target.store.headSeq()).toBe(head + applied.changes);

    const t = target.services;
    expect(t.settings.get().lockout.max_failures).toBe(3);
    expect(t.backends.get('corp')).toMatchObject({ bind_password: 'ldap-bind-secret' });
    expect(t.clients.get('gw')).toMatchObject({ address: '192.0.2.10', secret: 'client-shared-secret', backends: ['corp'] });
    expect(t.groups.get('vpn').attributes).toEqual([{ name: 'Filter-Id', value: 'vpn-users' }]);
    const alice = t.users.get('alice');
    expect(alice.password_hash).toBe(source.services.users.get('alice').password_hash);
    expect(alice.groups).toEqual(['vpn']);
    expect(t.users.get('bob').auth_mode).toBe('challenge');
    const aliceToken = target.store.readAll('token').find((x) => x.user_id === alice.id)!;
    expect(aliceToken).toMatchObject({ secret: secret(1), label: 'phone' });
    expect(target.store.read('token_state', String(aliceToken.id))).toEqual({ token_id: aliceToken.id, last_step: 55_000_000, drift: 1 });
    expect(t.tokens.listHardware().map((h) => [h.serial, h.assigned_to])).toEqual([['HW1', 'bob'], ['HW2', null]]);

    // importing the same document again changes nothing
    const again = transfer.preview(await transfer.open(text, PASSPHRASE));
    expect(again.changes).toBe(0);
    expect(again.users).toMatchObject({ unchanged: ['alice', 'bob'], changed: [] });
  });

  it('replaces: what the document lacks is removed; without secrets the node keeps its own', async () => {
    await populate(source);
    await populate(target);
    target.services.clients.add({ name: 'old-nas', address: '192.0.2.99', secret: 'another-secret-1' }, A);
    target.services.clients.update('gw', { secret: 'the-target-own-secret' }, A);
    const text = await exportText(source);
    const opened = await target.services.configTransfer.open(text);
    const preview = target.services.configTransfer.apply(opened, A);
    expect(preview.clients).toMatchObject({ removed: ['old-nas'], unchanged: ['gw'] });
    expect(preview.users).toBeUndefined();
    expect(target.services.clients.get('gw').secret).toBe('the-target-own-secret');
    expect(target.services.backends.get('corp')).toMatchObject({ bind_password: 'ldap-bind-secret' });
    expect(() => target.services.clients.get('old-nas')).toThrow('does not exist');
    expect(target.services.users.find('alice')).toBeDefined();
  });

  it('without secrets into a fresh node: a client cannot be made without its secret (every problem listed)', async () => {
    await populate(source);
    const opened = await target.services.configTransfer.open(await exportText(source));
    const err = (() => {
      try {
        target.services.configTransfer.preview(opened);
      } catch (e) {
        return e as ValidationError;
      }
      throw new Error('no error');
    })();
    expect(err).toBeInstanceOf(ValidationError);
    expect(err.problems.map((p) => p.message)).toEqual([
      'client "gw": its shared secret was left out of the export and this node has no client of that name; export with secrets',
    ]);
  });

  it('a wrong passphrase, a damaged checksum, a missing passphrase and a future version are refused, each with its own message', async () => {
    await populate(source);
    const text = await exportText(source, { users: true, secrets: FAST });
    const transfer = target.services.configTransfer;
    await expect(transfer.open(text, 'not the passphrase')).rejects.toThrow(WrongPassphraseError);
    await expect(transfer.open(text, 'not the passphrase')).rejects.toThrow(/^wrong passphrase/);
    await expect(transfer.open(text.replace('"Alice"', '"Alicia"'), PASSPHRASE)).rejects.toThrow(DamagedDocumentError);
    await expect(transfer.open(text.replace(/"checksum":"sha256:[0-9a-f]{4}/, '"checksum":"sha256:0000'), PASSPHRASE)).rejects.toThrow(
      /damaged: its checksum does not match/,
    );
    await expect(transfer.open(text.slice(0, -20), PASSPHRASE)).rejects.toThrow(/not JSON/);
    await expect(transfer.open(text)).rejects.toThrow(InvalidInputError);
    await expect(transfer.open('{"format": "something-else"}')).rejects.toThrow(ConfigDocumentError);
    const future = JSON.parse(text) as Record<string, unknown>;
    future.version = 7;
    future.checksum = documentChecksum(future);
    await expect(transfer.open(JSON.stringify(future), PASSPHRASE)).rejects.toThrow('the document is version 7, made by a newer otpgate');
    // a crafted document cannot make the node allocate gigabytes for scrypt
    const greedy = JSON.parse(text) as { secrets: { kdf: { n: number; r: number } } };
    greedy.secrets.kdf.n = 2 ** 20;
    greedy.secrets.kdf.r = 16;
    const greedyText = JSON.stringify({ ...greedy, checksum: documentChecksum(greedy) });
    await expect(transfer.open(greedyText, PASSPHRASE)).rejects.toThrow(/more than 256 MiB of memory/);
    expect(target.services.users.find('alice')).toBeUndefined();
  });

  it('every validation problem of the document is listed at once', async () => {
    const doc = JSON.parse(await exportText(source, { users: true })) as ConfigDocument;
    doc.body.clients.push(
      { name: 'a', address: '192.0.2.1', require_message_authenticator: true, auth_mode: null, on_backend_error: 'reject', backends: ['nope'], single_factor: false, description: '' },
      { name: 'b', address: 'not-an-ip', require_message_authenticator: true, auth_mode: null, on_backend_error: 'reject', backends: null, single_factor: false, description: '' },
    );
    doc.body.users!.push({ username: 'x', display_name: '', email: '', status: 'active', auth_mode: null, groups: ['ghosts'], attributes: [], initial_login_until: null, created_at: 1, updated_at: 1, has_password: false });
    const text = JSON.stringify({ ...doc, checksum: documentChecksum(doc) });
    const opened = await target.services.configTransfer.open(text);
    expect(() => target.services.configTransfer.preview(opened)).toThrow(ValidationError);
    try {
      target.services.configTransfer.preview(opened);
    } catch (e) {
      const paths = (e as ValidationError).problems.map((p) => p.path);
      expect(paths).toEqual(expect.arrayContaining(['body.clients[0].backends', 'body.clients[1].address', 'body.users[0].groups']));
    }
  });
});

describe('config document migrations', () => {
  /** A "version 0" document: sections at the top level, clients and users with "mode", no backends, no secrets. */
  const versionZero = () => {
    const doc: Record<string, unknown> = {
      format: 'otpgate-config',
      version: 0,
      exported_at: '2025-01-31T12:00:00.000Z',
      settings: { otp: { window_past: 2 }, lockout: { max_failures: 4 }, auth: { default_mode: 'challenge' } },
      groups: [{ name: 'vpn', attributes: [{ name: 'Filter-Id', value: 'vpn' }] }],
      clients: [{ name: 'fw', address: '198.51.100.0/24', require_message_authenticator: false, mode: 'code-only', description: 'firewalls' }],
      users: [{ username: 'carol', display_name: 'Carol', email: 'carol@example.com', groups: ['vpn'], mode: 'inline' }],
    };
    doc.checksum = documentChecksum(doc);
    return doc;
  };

  it('the list of steps reaches the current version', () => {
    expect(CONFIG_MIGRATIONS.map((m) => [m.from, m.to])).toEqual([[0, 1]]);
    const { document, applied } = migrateConfigDocument(versionZero());
    expect(applied).toHaveLength(1);
    expect(document).toMatchObject({ version: 1, body: { clients: [{ name: 'fw', auth_mode: 'code-only', single_factor: false, backends: null }] } });
  });

  it('a version 0 document is migrated, validated and imported (its client keeps the secret of the node)', async () => {
    target.services.clients.add({ name: 'fw', address: '198.51.100.0/24', secret: 'firewall-secret-1' }, A);
    const transfer = target.services.configTransfer;
    const opened = await transfer.open(JSON.stringify(versionZero()));
    expect(opened.sourceVersion).toBe(0);
    const preview = transfer.apply(opened, A);
    expect(preview).toMatchObject({ source_version: 0, migrations: [expect.stringContaining('version 0 -> 1')], users: { new: ['carol'] }, clients: { changed: ['fw'] } });
    const settings = target.services.settings.get();
    expect(settings).toMatchObject({ otp: { window_past: 2 }, lockout: { max_failures: 4 }, auth: { default_mode: 'challenge', backends: ['local'] } });
    expect(settings.backends).toEqual([{ type: 'local', name: 'local' }]);
    expect(target.services.clients.get('fw')).toMatchObject({ auth_mode: 'code-only', require_message_authenticator: false, single_factor: false, backends: null, secret: 'firewall-secret-1' });
    expect(target.services.users.get('carol')).toMatchObject({ auth_mode: 'inline', groups: ['vpn'], password_hash: null });
  });

  it('a version 0 document damaged after export is refused before migration', async () => {
    const doc = versionZero();
    (doc.clients as Array<Record<string, unknown>>)[0]!.address = '0.0.0.0/0';
    await expect(target.services.configTransfer.open(JSON.stringify(doc))).rejects.toThrow(DamagedDocumentError);
  });
});

