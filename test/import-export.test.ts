import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toBase32 } from '@otpgate/core';
import { TestNode } from './helpers/test-node.js';
import { papRequest, radclient } from './helpers/radclient.js';
import { awaitFreshStep, totpCode } from './helpers/otp.js';
import { CLI_PATH, REPO_ROOT } from './helpers/paths.js';
import { otpgate } from './helpers/cli.js';

const SECRET = 'testing123';
const RFC = join(REPO_ROOT, 'packages', 'core', 'test', 'fixtures', 'rfc6030');
const figure = (name: string) => join(RFC, `${name}.pskcxml`);
const RFC_PSK_HEX = '12345678901234567890123456789012';
/** HOTP codes of the RFC 4226 seed "12345678901234567890", 8 digits, counters 0 and 1 (RFC 4226 Appendix D). */
const RFC_HOTP_8 = ['84755224', '94287082'];
const PASSPHRASE = 'an export passphrase for the e2e test';

interface ImportJson {
  preview: { counts: Record<string, number>; rows: Array<{ line: number; verdict: string; reason?: string; summary: string }> };
  committed: boolean;
  result?: { written: Record<string, number>; changes: number };
}

describe('imports and config export/import, with real nodes and radclient', () => {
  let a: TestNode;
  let b: TestNode | undefined;
  /** Alice's Azure hardware token: base32, 160 bits. */
  const aliceHw = toBase32(Buffer.from('alice-hardware-token', 'utf8'));
  const accept = async (node: TestNode, user: string, password: string) => (await radclient(node.target, SECRET, papRequest(user, password))).code;

  beforeAll(async () => {
    a = await TestNode.create('import-a');
    await a.addClient('local', '127.0.0.1', SECRET);
    await a.cliOk('group', 'add', 'vpn', '--attr', 'Filter-Id=vpn-users');
    await a.cliInput('alice-password', 'user', 'add', 'alice', '--password-stdin', '--group', 'vpn');
    await a.cliInput('bob-password', 'user', 'add', 'bob', '--password-stdin');
    await a.start();
  });
  afterAll(async () => {
    await a?.stop();
    await b?.stop();
  });

  const hardware = async (node: TestNode) => JSON.parse(await node.cliOk('hardware', 'list', '--json')) as Array<{ serial: string; assigned_to: string | null }>;

  it('RFC 6030 examples: a short secret is an error row and nothing is written; PSK and PBKDF2 files decrypt', async () => {
    const short = await a.cli('import', 'pskc', figure('figure2-basic'), '--commit');
    expect(short.code).toBe(1);
    expect(short.stdout).toContain('key package 1: error: serial 12345678, hotp 6 digits — the secret is 32 bits; at least 128 are required');
    expect(short.stderr).toContain('1 rows have errors; nothing was written');
    expect(await hardware(a)).toEqual([]);

    const noKey = await a.cli('import', 'pskc', figure('figure6-psk-aes128'));
    expect(noKey.code).toBe(1);
    expect(noKey.stderr).toContain('encrypted under a pre-shared key ("Pre-shared-key"): give it in hex (--psk-hex-stdin)');
    const noPassphrase = await a.cli('import', 'pskc', figure('figure7-pbkdf2'));
    expect(noPassphrase.code).toBe(1);
    expect(noPassphrase.stderr).toContain('encrypted under a passphrase ("My Password 1"): give it (--passphrase-stdin)');
    const badPassphrase = await otpgate(['-c', a.configPath, 'import', 'pskc', figure('figure7-pbkdf2'), '--passphrase-stdin'], { input: 'qwertz\n' });
    expect(badPassphrase.code).toBe(1);
    expect(badPassphrase.stderr).toMatch(/wrong passphrase, or a damaged file/);

    const pbkdf2 = JSON.parse(await a.cliInput('qwerty\n', 'import', 'pskc', figure('figure7-pbkdf2'), '--passphrase-stdin', '--json')) as ImportJson;
    expect(pbkdf2).toMatchObject({ committed: false, preview: { counts: { new: 1, error: 0 } } });
    const plain = JSON.parse(await a.cliOk('import', 'pskc', figure('figure3-supplementary'), '--json')) as ImportJson;
    expect(plain.preview.rows[0]).toMatchObject({ verdict: 'new', summary: 'serial 987654321, hotp 8 digits, Manufacturer' });

    const psk = JSON.parse(await a.cliInput(`${RFC_PSK_HEX}\n`, 'import', 'pskc', figure('figure6-psk-aes128'), '--psk-hex-stdin', '--commit', '--json')) as ImportJson;
    expect(psk).toMatchObject({ committed: true, result: { written: { hardware_tokens: 1 } } });
    expect(await hardware(a)).toMatchObject([{ serial: '987654321', assigned_to: null }]);

    // the decrypted seed is the RFC's: bob logs in with its first HOTP code (8 digits)
    await a.cliOk('token', 'assign', '987654321', 'bob');
    expect(await accept(a, 'bob', `bob-password${RFC_HOTP_8[0]}`)).toBe('Access-Accept');
  });

  it('Azure CSV: bad rows show in the preview with their lines and nothing is written; the good file assigns and authenticates', async () => {
    const bad = join(a.dir, 'azure-bad.csv');
    writeFileSync(
      bad,
      [
        'upn,serial number,secret key,time interval,manufacturer,model',
        `alice@example.com,AZ-1,${aliceHw},30,Feitian,c200`,
        'alice@example.com,AZ-2,THIS-IS-NOT-BASE32!,30,Feitian,c200',
        `alice@example.com,AZ-3,${toBase32(Buffer.alloc(10, 7))},30,Feitian,c200`,
        `nobody@example.com,AZ-4,${toBase32(Buffer.alloc(20, 4))},30,Feitian,c200`,
        `bob@example.com,AZ-5,${toBase32(Buffer.alloc(20, 5))},30,Feitian,c200`,
        `bob@example.com,AZ-5,${toBase32(Buffer.alloc(20, 6))},30,Feitian,c200`,
        `bob@example.com,987654321,${toBase32(Buffer.alloc(20, 9))},30,Feitian,c200`,
      ].join('\r\n') + '\r\n',
    );
    const preview = await a.cli('import', 'azure-csv', bad, '--strip-domain', '--json');
    expect(preview.code).toBe(1);
    const rows = (JSON.parse(preview.stdout) as ImportJson).preview.rows.map((r) => [r.line, r.verdict, r.reason ?? '']);
    expect(rows).toEqual([
      [2, 'new', ''],
      [3, 'error', 'the secret key is not base32: "-" at position 5 is not one of A-Z, 2-7'],
      [4, 'error', 'the secret is 80 bits; at least 128 are required (settings otp.min_secret_bits)'],
      [5, 'error', 'unknown user: no user "nobody@example.com" or "nobody"; add the user first, or import with unknown users into the inventory only'],
      [6, 'error', 'duplicate serial: serial AZ-5 is on lines 6, 7 of the file'],
      [7, 'error', 'duplicate serial: serial AZ-5 is on lines 6, 7 of the file'],
      [8, 'error', 'duplicate serial: 987654321 is already in the inventory with another secret'],
    ]);
    const refused = await a.cli('import', 'azure-csv', bad, '--strip-domain', '--commit');
    expect(refused.code).toBe(1);
    expect(refused.stdout).toContain('line 3: error: serial AZ-2 -> alice@example.com — the secret key is not base32');
    expect(refused.stderr).toContain('6 rows have errors; nothing was written');
    expect((await hardware(a)).map((h) => h.serial)).toEqual(['987654321']);

    const good = join(a.dir, 'azure-good.csv');
    writeFileSync(good, readFileSync(bad, 'utf8').split('\r\n').slice(0, 2).join('\r\n') + '\r\n');
    const out = await a.cliOk('import', 'azure-csv', good, '--strip-domain', '--commit');
    expect(out).toContain('imported: 0 users, 1 tokens, 1 inventory entries, 0 groups written (2 changes');
    expect(await hardware(a)).toEqual(expect.arrayContaining([expect.objectContaining({ serial: 'AZ-1', assigned_to: 'alice' })]));
    await awaitFreshStep();
    expect(await accept(a, 'alice', `alice-password${totpCode(aliceHw)}`)).toBe('Access-Accept');
  });

  it('users CSV: creates users with their tokens; the CSV export lists them without secrets', async () => {
    const file = join(a.dir, 'users.csv');
    const carolSecret = toBase32(Buffer.from('carol-authenticator!', 'utf8'));
    writeFileSync(file, `username,display name,email,groups,token secret\ncarol,Carol C,carol@example.com,vpn,${carolSecret}\n"bad user",,,,\n`);
    const refused = await a.cli('import', 'users-csv', file, '--commit');
    expect(refused.code).toBe(1);
    const done = await a.cliOk('import', 'users-csv', file, '--commit', '--skip-errors');
    expect(done).toContain('imported: 1 users, 1 tokens');
    await a.cliInput('carol-password', 'user', 'set-password', 'carol', '--password-stdin');
    await awaitFreshStep();
    expect(await accept(a, 'carol', `carol-password${totpCode(carolSecret)}`)).toBe('Access-Accept');
    const csv = await a.cliOk('user', 'export-csv');
    expect(csv.split('\r\n')[0]).toBe('username,display name,email,groups,status,tokens,local password,created');
    expect(csv).toMatch(/\r\ncarol,Carol C,carol@example.com,vpn,active,1,yes,/);
    expect(csv).not.toContain(carolSecret);
  });

  it('an import killed halfway through its commit leaves the store as it was', async () => {
    const file = join(a.dir, 'many-users.csv');
    const rows = Array.from({ length: 40_000 }, (_, i) => `bulk${i},${toBase32(Buffer.alloc(20, i % 256))}`);
    writeFileSync(file, `username,token secret\n${rows.join('\n')}\n`);
    const head = await a.headSeq();
    const users = (JSON.parse(await a.cliOk('user', 'list', '--json')) as { total: number }).total;
    // killed (SIGKILL: no clean-up of any kind) once the progress shows changes written inside the transaction
    const child = spawn(process.execPath, [CLI_PATH, '-c', a.configPath, 'import', 'users-csv', file, '--commit', '--progress'], { stdio: ['ignore', 'ignore', 'pipe'] });
    const killedAt = await new Promise<string>((resolve, reject) => {
      let err = '';
      child.stderr.on('data', (d: Buffer) => {
        err += d.toString();
        const m = /commit: (\d+)% \((\d+)\/(\d+)\)/.exec(err);
        if (m && Number(m[2]) > 0 && Number(m[2]) < Number(m[3])) {
          child.kill('SIGKILL');
          resolve(m[0]);
        }
      });
      child.on('exit', () => reject(new Error(`the import ended before it could be killed: ${err}`)));
    });
    expect(killedAt).toMatch(/^commit: /);
    await new Promise((r) => child.once('exit', r));
    expect(await a.headSeq()).toBe(head);
    expect((JSON.parse(await a.cliOk('user', 'list', '--json')) as { total: number }).total).toBe(users);
    // the node goes on answering from the same store (a reject: alice's codes are kept for the next test)
    expect(await accept(a, 'alice', 'alice-password000000')).toBe('Access-Reject');
  });

  it('config export with secrets -> import into a fresh node -> radclient accepts the same users with their codes', async () => {
    const file = join(a.dir, 'export.json');
    await a.cliInput(`${PASSPHRASE}\n`, 'config', 'export', file, '--with-users', '--with-secrets', '--passphrase-stdin');
    const text = readFileSync(file, 'utf8');
    expect(text).not.toContain(aliceHw);
    expect(text).not.toContain(SECRET);

    b = await TestNode.create('import-b');
    // a wrong passphrase and a damaged file are refused, each with its own message, and nothing is written
    const wrong = await otpgate(['-c', b.configPath, 'config', 'import', file, '--passphrase-stdin'], { input: 'not the passphrase at all\n' });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('otpgate: wrong passphrase: the secrets in the config document do not decrypt with it');
    const damagedFile = join(b.dir, 'damaged.json');
    writeFileSync(damagedFile, text.replace('"vpn-users"', '"vpn-userz"'));
    const damaged = await otpgate(['-c', b.configPath, 'config', 'import', damagedFile, '--passphrase-stdin'], { input: `${PASSPHRASE}\n` });
    expect(damaged.code).toBe(1);
    expect(damaged.stderr).toContain('otpgate: the config document is damaged: its checksum does not match its contents');
    expect(JSON.parse(await b.cliOk('user', 'list', '--json'))).toMatchObject({ total: 0 });

    const dry = await b.cliInput(`${PASSPHRASE}\n`, 'config', 'import', file, '--passphrase-stdin', '--dry-run');
    expect(dry).toContain('users: 3 new (alice, bob, carol)');
    expect(dry).toContain('hardware tokens: 2 new (987654321, AZ-1)');
    expect(dry).toContain('dry run: nothing written');
    const applied = await b.cliInput(`${PASSPHRASE}\n`, 'config', 'import', file, '--passphrase-stdin');
    expect(applied).toMatch(/imported: \d+ changes applied in one transaction/);

    await b.start();
    await awaitFreshStep();
    // codes used on the old node stay used (the replay state moves too): the next step's codes, which the default
    // window accepts, show the tokens themselves arrived
    const reply = await radclient(b.target, SECRET, papRequest('alice', `alice-password${totpCode(aliceHw, 1)}`));
    expect(reply.code).toBe('Access-Accept');
    expect(reply.attributes.get('Filter-Id')).toEqual(['vpn-users']);
    expect(await accept(b, 'carol', `carol-password${totpCode(toBase32(Buffer.from('carol-authenticator!', 'utf8')), 1)}`)).toBe('Access-Accept');
    // bob's HOTP code 0 was used on the old node: a replay on the new one; the next code works
    expect(await accept(b, 'bob', `bob-password${RFC_HOTP_8[0]}`)).toBe('Access-Reject');
    expect(await accept(b, 'bob', `bob-password${RFC_HOTP_8[1]}`)).toBe('Access-Accept');
  });
});
