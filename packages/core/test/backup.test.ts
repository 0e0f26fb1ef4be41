import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BackupFileError, openBackup, readBackupHeader, sealBackup } from '../src/backup/backup-file.js';
import { RestoreError, keyId, restoreBackup, writeBackup } from '../src/backup/node-backup.js';
import { CLI_ACTOR } from '../src/services/context.js';
import { Store } from '../src/store/store.js';
import { packArchive, unpackArchive } from '../src/backup/archive.js';
import { createFixture, type Fixture } from './store-fixture.js';

const PASSPHRASE = 'correct horse battery staple';

let files: string;
beforeAll(() => {
  files = mkdtempSync(join(tmpdir(), 'otpgate-backup-files-'));
});
afterAll(() => {
  rmSync(files, { recursive: true, force: true });
});

let fileCount = 0;
/** `bytes` in a new file; its path. */
function fileOf(bytes: Buffer): string {
  const path = join(files, `file-${++fileCount}`);
  writeFileSync(path, bytes);
  return path;
}

async function collect(chunks: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of chunks) parts.push(chunk);
  return Buffer.concat(parts);
}

/** `payload` encrypted as a backup file's bytes. */
const seal = (payload: Buffer, passphrase = PASSPHRASE) => collect(sealBackup([payload], passphrase, { includesKeys: false }));

/** A backup file's content, decrypted to the end (the tag checked). */
async function unseal(path: string, passphrase = PASSPHRASE): Promise<Buffer> {
  return collect((await openBackup(path, passphrase)).content);
}

describe('backup file encryption', () => {
  const payload = Buffer.from('the content of a backup, any bytes \x00\x01\x02');
  let sealed: Buffer;
  beforeAll(async () => {
    sealed = await seal(payload);
  });

  it('round-trips under the passphrase, with a readable versioned header', async () => {
    expect(sealed.subarray(0, 17).toString()).toBe('otpgate-backup 1\n');
    const { header } = readBackupHeader(sealed);
    expect(header).toMatchObject({ kdf: 'scrypt', n: 2 ** 17, r: 8, p: 1, cipher: 'aes-256-gcm', includes_keys: false });
    expect(await unseal(fileOf(sealed))).toEqual(payload);
  });

  it('says "wrong passphrase" for a wrong passphrase', async () => {
    await expect(openBackup(fileOf(sealed), 'correct horse battery stapler')).rejects.toMatchObject({ reason: 'wrong-passphrase', message: 'wrong passphrase for this backup file' });
  });

  it('says "damaged" for a changed byte of content or header (at the end of the content), and "not a backup" for another file', async () => {
    const flipped = Buffer.from(sealed);
    flipped[flipped.length - 40]! ^= 1;
    await expect(unseal(fileOf(flipped))).rejects.toMatchObject({ reason: 'damaged' });
    const relabelled = Buffer.from(sealed.toString('latin1').replace('"includes_keys":false', '"includes_keys":true '), 'latin1');
    await expect(unseal(fileOf(relabelled))).rejects.toMatchObject({ reason: 'damaged' });
    await expect(openBackup(fileOf(Buffer.from('SQLite format 3\0...')), PASSPHRASE)).rejects.toMatchObject({ reason: 'not-a-backup' });
    await expect(openBackup(fileOf(Buffer.from('otpgate-backup 9\n{}\n')), PASSPHRASE)).rejects.toMatchObject({ reason: 'unsupported-version' });
  });

  it('refuses KDF parameters that would exhaust memory, and short passphrases', async () => {
    const greedy = Buffer.from(sealed.toString('latin1').replace('"n":131072', '"n":1073741824'), 'latin1');
    await expect(openBackup(fileOf(greedy), PASSPHRASE)).rejects.toBeInstanceOf(BackupFileError);
    await expect(seal(payload, 'short')).rejects.toMatchObject({ reason: 'weak-passphrase' });
  });
});

describe('backup content', () => {
  it('is unpacked from chunks cut anywhere, small files in memory and large ones to their files, each checked', async () => {
    const big = Buffer.alloc(20_000, 7);
    big.write('the database', 1000);
    const packed = await collect(
      await packArchive(
        { format: 'otpgate-backup-content', version: 1, created_at: '', node: 'n', role: 'master', otpgate_version: 't', head_seq: 1, key_id: 'k', includes_keys: true },
        [
          { name: 'otpgate.db', path: fileOf(big) },
          { name: 'empty', content: Buffer.alloc(0) },
          { name: 'secret.key', content: Buffer.from('key\n') },
        ],
      ),
    );
    async function* cut(size: number): AsyncGenerator<Buffer> {
      for (let off = 0; off < packed.length; off += size) yield packed.subarray(off, off + size);
    }
    for (const size of [3, 4096, packed.length]) {
      const target = join(files, `db-${size}`);
      const { manifest, files: kept } = await unpackArchive(cut(size), () => true, (name) => (name === 'otpgate.db' ? target : undefined));
      expect(manifest.files.map((f) => f.name)).toEqual(['otpgate.db', 'empty', 'secret.key']);
      expect(readFileSync(target)).toEqual(big);
      expect(kept).toEqual(new Map([['empty', Buffer.alloc(0)], ['secret.key', Buffer.from('key\n')]]));
    }
    const changed = Buffer.from(packed);
    changed[changed.length - 10]! ^= 1;
    await expect(unpackArchive([changed], () => true, () => undefined)).rejects.toThrow(/does not match its digest/);
    await expect(unpackArchive([packed.subarray(0, packed.length - 1)], () => true, () => undefined)).rejects.toThrow(/cut short/);
    await expect(unpackArchive([Buffer.concat([packed, Buffer.from('x')])], () => true, () => undefined)).rejects.toThrow(/bytes after the last file/);
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

  let backups = 0;
  /** A backup of the fixture's node written to a new file; the file and what writeBackup said. */
  async function backup(includeKeys: boolean): Promise<{ path: string; result: Awaited<ReturnType<typeof writeBackup>> }> {
    const path = join(scratch, `backup-${++backups}.otpgate-backup`);
    const result = await writeBackup(dataDir(), path, PASSPHRASE, { includeKeys, node: 'n1', version: 'test' });
    return { path, result };
  }

  it('copies the open database (online) and restores it with the key into an empty folder', async () => {
    const { path, result: content } = await backup(true);
    expect(content.manifest).toMatchObject({ role: 'master', includes_keys: true, key_id: keyId(f.store.sealKey) });
    expect(content.users).toBe(1);
    expect(content.bytes).toBe(statSync(path).size);
    // nothing left beside the backup (its private working folder is gone), and the file is the owner's alone
    expect(readdirSync(scratch).filter((n) => n.startsWith('.otpgate-backup-'))).toEqual([]);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    await expect(writeBackup(dataDir(), path, PASSPHRASE, { includeKeys: true, node: 'n1', version: 'test' })).rejects.toMatchObject({ code: 'EEXIST' });
    const target = join(scratch, 'with-key');
    const result = await restoreBackup(target, path, PASSPHRASE);
    expect(result).toMatchObject({ role: 'master', users: 1, keySource: 'backup', setAside: [] });
    expect(statSync(join(target, 'secret.key')).mode & 0o777).toBe(0o600);
    expect(readdirSync(target).filter((n) => n.endsWith('.restoring'))).toEqual([]);
    const restored = await Store.open(target);
    try {
      expect(restored.readAll('client').map((c) => [c.name, c.secret])).toEqual([['vpn', 'client-secret-123']]);
    } finally {
      restored.close();
    }
  });

  it('without the key: refuses until given the original key, and refuses a different key by its id', async () => {
    const { path } = await backup(false);
    expect((await unseal(path)).includes(readFileSync(join(dataDir(), 'secret.key')))).toBe(false);
    const target = join(scratch, 'without-key');
    await expect(restoreBackup(target, path, PASSPHRASE)).rejects.toThrow(/made without --include-key.*--keys-from/);
    const other = await createFixture();
    try {
      await expect(restoreBackup(target, path, PASSPHRASE, { keysFrom: join(other.dir, 'data') })).rejects.toThrow(/is not the key this backup's database is sealed under/);
    } finally {
      other.close();
    }
    expect(readdirSync(target)).toEqual([]);
    const result = await restoreBackup(target, path, PASSPHRASE, { keysFrom: dataDir() });
    expect(result).toMatchObject({ keySource: 'keys-from', users: 1 });
  });

  it('refuses an initialised folder unless forced, and then keeps the replaced files beside', async () => {
    const { path } = await backup(true);
    const target = join(scratch, 'occupied');
    (await Store.create(target)).close();
    await expect(restoreBackup(target, path, PASSPHRASE)).rejects.toBeInstanceOf(RestoreError);
    const result = await restoreBackup(target, path, PASSPHRASE, { force: true });
    expect(result.setAside.length).toBeGreaterThanOrEqual(2);
    expect(readdirSync(target).filter((n) => n.includes('.before-restore-'))).toEqual(expect.arrayContaining([expect.stringMatching(/^otpgate\.db\./), expect.stringMatching(/^secret\.key\./)]));
    expect(result.users).toBe(1);
  });

  it('rejects content with a file it does not know (no path tricks), and leaves nothing behind', async () => {
    const payload = await unseal((await backup(false)).path);
    const json = payload.subarray(4, 4 + payload.readUInt32BE(0)).toString();
    const evil = Buffer.from(json.replace('"name":"otpgate.db"', '"name":"../../etc/x"'));
    const len = Buffer.alloc(4);
    len.writeUInt32BE(evil.length);
    const sealed = fileOf(await seal(Buffer.concat([len, evil, payload.subarray(4 + payload.readUInt32BE(0))])));
    const target = join(scratch, 'evil');
    await expect(restoreBackup(target, sealed, PASSPHRASE)).rejects.toThrow(/unexpected file/);
    expect(readdirSync(target)).toEqual([]);
  });
});
