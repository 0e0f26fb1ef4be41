import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BackupFileError,
  CLI_ACTOR,
  RestoreError,
  Store,
  collectBackup,
  keyId,
  openBackup,
  readBackupHeader,
  restoreBackup,
  sealBackup,
} from '@otpgate/core';
import { createFixture, type Fixture } from './store-fixture.js';

const PASSPHRASE = 'correct horse battery staple';

describe('backup file encryption', () => {
  const payload = Buffer.from('the content of a backup, any bytes \x00\x01\x02');
  let sealed: Buffer;
  beforeAll(async () => {
    sealed = await sealBackup(payload, PASSPHRASE, { includesKeys: false });
  });

  it('round-trips under the passphrase, with a readable versioned header', async () => {
    expect(sealed.subarray(0, 17).toString()).toBe('otpgate-backup 1\n');
    const { header } = readBackupHeader(sealed);
    expect(header).toMatchObject({ kdf: 'scrypt', n: 2 ** 17, r: 8, p: 1, cipher: 'aes-256-gcm', includes_keys: false });
    expect((await openBackup(sealed, PASSPHRASE)).payload).toEqual(payload);
  });

  it('says "wrong passphrase" for a wrong passphrase', async () => {
    await expect(openBackup(sealed, 'correct horse battery stapler')).rejects.toMatchObject({ reason: 'wrong-passphrase', message: 'wrong passphrase for this backup file' });
  });

  it('says "damaged" for a changed byte of content or header, and "not a backup" for another file', async () => {
    const flipped = Buffer.from(sealed);
    flipped[flipped.length - 40]! ^= 1;
    await expect(openBackup(flipped, PASSPHRASE)).rejects.toMatchObject({ reason: 'damaged' });
    const relabelled = Buffer.from(sealed.toString('latin1').replace('"includes_keys":false', '"includes_keys":true '), 'latin1');
    await expect(openBackup(relabelled, PASSPHRASE)).rejects.toMatchObject({ reason: 'damaged' });
    await expect(openBackup(Buffer.from('SQLite format 3\0...'), PASSPHRASE)).rejects.toMatchObject({ reason: 'not-a-backup' });
    await expect(openBackup(Buffer.from('otpgate-backup 9\n{}\n'), PASSPHRASE)).rejects.toMatchObject({ reason: 'unsupported-version' });
  });

  it('refuses KDF parameters that would exhaust memory, and short passphrases', async () => {
    const greedy = Buffer.from(sealed.toString('latin1').replace('"n":131072', '"n":1073741824'), 'latin1');
    await expect(openBackup(greedy, PASSPHRASE)).rejects.toBeInstanceOf(BackupFileError);
    await expect(sealBackup(payload, 'short', { includesKeys: false })).rejects.toMatchObject({ reason: 'weak-passphrase' });
  });
});

describe('node backup and restore', () => {
  let f: Fixture;
  let scratch: string;
  beforeAll(async () => {
    f = await createFixture();
    scratch = mkdtempSync(join(tmpdir(), 'otpgate-restore-'));
    f.services.clients.add({ name: 'vpn', address: '192.0.2.1', secret: 'client-secret-123' }, CLI_ACTOR);
    await f.services.users.add({ username: 'alice', password: 'alice-password-1' }, CLI_ACTOR);
    f.services.tokens.add('alice', {}, CLI_ACTOR);
  });
  afterAll(() => {
    f.close();
    rmSync(scratch, { recursive: true, force: true });
  });

  const dataDir = () => join(f.dir, 'data');

  it('copies the open database (online) and restores it with the key into an empty folder', async () => {
    const content = await collectBackup(dataDir(), { includeKeys: true, node: 'n1', version: 'test' });
    expect(content.manifest).toMatchObject({ role: 'master', includes_keys: true, key_id: keyId(f.store.sealKey) });
    expect(content.users).toBe(1);
    const target = join(scratch, 'with-key');
    const result = await restoreBackup(target, content.payload);
    expect(result).toMatchObject({ role: 'master', users: 1, keySource: 'backup', setAside: [] });
    expect(statSync(join(target, 'secret.key')).mode & 0o777).toBe(0o600);
    const restored = await Store.open(target);
    try {
      expect(restored.readAll('client').map((c) => [c.name, c.secret])).toEqual([['vpn', 'client-secret-123']]);
    } finally {
      restored.close();
    }
  });

  it('without the key: refuses until given the original key, and refuses a different key by its id', async () => {
    const content = await collectBackup(dataDir(), { includeKeys: false, node: 'n1', version: 'test' });
    expect(content.payload.includes(readFileSync(join(dataDir(), 'secret.key')))).toBe(false);
    const target = join(scratch, 'without-key');
    await expect(restoreBackup(target, content.payload)).rejects.toThrow(/made without --include-key.*--keys-from/);
    const other = await createFixture();
    try {
      await expect(restoreBackup(target, content.payload, { keysFrom: join(other.dir, 'data') })).rejects.toThrow(/is not the key this backup's database is sealed under/);
    } finally {
      other.close();
    }
    expect(existsSync(join(target, 'otpgate.db'))).toBe(false);
    const result = await restoreBackup(target, content.payload, { keysFrom: dataDir() });
    expect(result).toMatchObject({ keySource: 'keys-from', users: 1 });
  });

  it('refuses an initialised folder unless forced, and then keeps the replaced files beside', async () => {
    const content = await collectBackup(dataDir(), { includeKeys: true, node: 'n1', version: 'test' });
    const target = join(scratch, 'occupied');
    (await Store.create(target)).close();
    await expect(restoreBackup(target, content.payload)).rejects.toBeInstanceOf(RestoreError);
    const result = await restoreBackup(target, content.payload, { force: true });
    expect(result.setAside.length).toBeGreaterThanOrEqual(2);
    expect(readdirSync(target).filter((n) => n.includes('.before-restore-'))).toEqual(expect.arrayContaining([expect.stringMatching(/^otpgate\.db\./), expect.stringMatching(/^secret\.key\./)]));
    expect(result.users).toBe(1);
  });

  it('rejects content with a file it does not know (no path tricks)', async () => {
    const content = await collectBackup(dataDir(), { includeKeys: false, node: 'n1', version: 'test' });
    const json = content.payload.subarray(4, 4 + content.payload.readUInt32BE(0)).toString();
    const evil = Buffer.from(json.replace('"name":"otpgate.db"', '"name":"../../etc/x"'));
    const len = Buffer.alloc(4);
    len.writeUInt32BE(evil.length);
    const payload = Buffer.concat([len, evil, content.payload.subarray(4 + content.payload.readUInt32BE(0))]);
    await expect(restoreBackup(join(scratch, 'evil'), payload)).rejects.toThrow(/unexpected file/);
  });
});
