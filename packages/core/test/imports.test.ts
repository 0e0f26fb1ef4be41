import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { parseCsv } from '../src/imports/csv.js';
import { ImportRefusedError } from '../src/imports/import-service.js';
import { readPskc } from '../src/imports/pskc.js';
import type { ImportPreview } from '../src/imports/types.js';
import { usersCsvChunks } from '../src/imports/users-export.js';
import { fromBase32, toBase32 } from '../src/otp/secret.js';
import { CLI_ACTOR } from '../src/services/context.js';
import { ConflictError, InvalidInputError } from '@otpgate/shared';
import { createFixture, type Fixture } from './store-fixture.js';

const A = CLI_ACTOR;
const RFC = join(import.meta.dirname, 'fixtures', 'rfc6030');
const figure = (name: string) => readFileSync(join(RFC, `${name}.pskcxml`), 'utf8');
const RFC_PSK = Buffer.from('12345678901234567890123456789012', 'hex');
/** 160-bit secrets, distinct per number. */
const secret = (n: number) => toBase32(Buffer.alloc(20, n));
const AZURE_HEADER = 'upn,serial number,secret key,time interval,manufacturer,model';

let f: Fixture;
beforeEach(async () => {
  f = await createFixture();
});
afterEach(() => f.close());

const verdicts = (p: ImportPreview) => p.rows.map((r) => [r.line, r.verdict]);
const tableCounts = () => {
  const count = (t: 'users' | 'tokens' | 'hardware_tokens' | 'groups') =>
    Number(f.store.db.first(f.store.db.q.selectFrom(t).select((eb) => eb.fn.countAll().as('n')))!.n);
  return { users: count('users'), tokens: count('tokens'), hardware: count('hardware_tokens'), groups: count('groups'), head: f.store.headSeq() };
};

describe('CSV reader', () => {
  it('reads quotes, doubled quotes, line breaks in cells, CRLF and a BOM, with the line each record starts on', () => {
    const text = '\ufeffa,b\r\n"x, y","say ""hi"""\r\n"two\nlines",z\n\n last , \n';
    expect(parseCsv(text)).toEqual([
      { line: 1, cells: ['a', 'b'] },
      { line: 2, cells: ['x, y', 'say "hi"'] },
      { line: 3, cells: ['two\nlines', 'z'] },
      { line: 6, cells: [' last ', ' '] },
    ]);
  });

  it('refuses an unclosed quote and text after a closing quote, naming the line', () => {
    expect(() => parseCsv('a\n"open,b\n')).toThrow('a quoted cell opened on line 2 is never closed');
    expect(() => parseCsv('a,b\n"x"y,b\n')).toThrow('line 2: unexpected text after a closing quote');
  });
});

describe('PSKC (RFC 6030 examples)', () => {
  it('figure 2 and 3: plain secrets; figure 5: the PIN key package is skipped', () => {
    const basic = readPskc(figure('figure2-basic'), {});
    expect(basic.entries[0]).toMatchObject({ serial: '12345678', kind: 'hotp', digits: 6, encrypted: false });
    expect(basic.entries[0]!.secret!.toString()).toBe('1234');
    const supplementary = readPskc(figure('figure3-supplementary'), {}).entries[0]!;
    expect(supplementary).toMatchObject({ serial: '987654321', manufacturer: 'Manufacturer', kind: 'hotp', digits: 8, counter: 0 });
    expect(supplementary.secret!.toString()).toBe('12345678901234567890');
    const pin = readPskc(figure('figure5-pin'), {}).entries;
    expect(pin.map((e) => e.skip ?? 'otp')).toEqual(['otp', 'a PIN, not a one-time-password key']);
  });

  it('figure 6: AES-128-CBC under the pre-shared key, MAC checked; a wrong key is refused', () => {
    const doc = readPskc(figure('figure6-psk-aes128'), { psk: RFC_PSK });
    expect(doc.entries[0]).toMatchObject({ serial: '987654321', encrypted: true, digits: 8 });
    expect(doc.entries[0]!.secret!.toString()).toBe('12345678901234567890');
    expect(() => readPskc(figure('figure6-psk-aes128'), {})).toThrow('encrypted under a pre-shared key ("Pre-shared-key"): give it in hex');
    const wrong = Buffer.from('12345678901234567890123456789013', 'hex');
    expect(() => readPskc(figure('figure6-psk-aes128'), { psk: wrong })).toThrow(/wrong pre-shared key|MAC matches/);
  });

  it('figure 7: PBKDF2 from the passphrase "qwerty" (the RFC\'s derived key), MAC checked', () => {
    const doc = readPskc(figure('figure7-pbkdf2'), { passphrase: 'qwerty' });
    expect(doc.entries[0]).toMatchObject({ serial: '987654321', manufacturer: 'TokenVendorAcme', encrypted: true });
    expect(doc.entries[0]!.secret!.toString()).toBe('12345678901234567890');
    expect(() => readPskc(figure('figure7-pbkdf2'), {})).toThrow('encrypted under a passphrase ("My Password 1")');
    expect(() => readPskc(figure('figure7-pbkdf2'), { passphrase: 'qwertz' })).toThrow(/wrong passphrase|MAC matches/);
  });

  it('key parameters out of range or unknown are an input error naming the parameter, not a crash', () => {
    const fig7 = figure('figure7-pbkdf2');
    const cases: Array<[string, RegExp]> = [
      [fig7.replace('<IterationCount>1000<', '<IterationCount>abc<'), /PSKC: PBKDF2 iteration count NaN is out of range/],
      [fig7.replace('<IterationCount>1000<', '<IterationCount>50000000<'), /PSKC: PBKDF2 iteration count 50000000 is out of range \(1 to 1,000,000\)/],
      [fig7.replace('<PRF/>', '<PRF Algorithm="urn:example:prf"/>'), /PSKC: .*urn:example:prf/],
    ];
    for (const [text, message] of cases) {
      expect(() => readPskc(text, { passphrase: 'qwerty' })).toThrow(InvalidInputError);
      expect(() => readPskc(text, { passphrase: 'qwerty' })).toThrow(message);
    }
  });

  it('an altered ciphertext fails its MAC: an error row, not a crash', () => {
    const text = figure('figure6-psk-aes128').replace('AAECAwQFBgcICQoLDA0OD+cIHItlB3Wra1DUpxVvOx2lef1VmNPCMl8jwZqIUqGv', 'AAECAwQFBgcICQoLDA0OD+cIHItlB3Wra1DUpxVvOx2lef1VmNPCMl8jwZqIUqGw');
    const two = text.replace('</KeyContainer>', figure('figure6-psk-aes128').split('<KeyPackage>')[1]!.split('</KeyPackage>')[0]!.replace('987654321', '987654322').replace(/^/, '<KeyPackage>') + '</KeyPackage></KeyContainer>');
    const preview = f.services.imports.preview({ format: 'pskc', text: two, options: { psk: RFC_PSK } });
    expect(preview.rows.map((r) => [r.verdict, r.reason ?? ''])).toEqual([
      ['error', 'the ValueMAC does not match: wrong key, or the file was altered'],
      ['new', ''],
    ]);
  });

  it('not XML, a DOCTYPE, another root element: clear errors', () => {
    expect(() => readPskc('<KeyContainer Version="1.0"><KeyPackage>', {})).toThrow(/PSKC: not well-formed XML: line 1/);
    expect(() => readPskc('<!DOCTYPE x [<!ENTITY a "b">]><KeyContainer Version="1.0"/>', {})).toThrow('DOCTYPE');
    expect(() => readPskc('<Other/>', {})).toThrow('not a PSKC document');
  });

  it('imports into the inventory: short secret and duplicates are error rows, the rest commit', () => {
    const short = f.services.imports.preview({ format: 'pskc', text: figure('figure2-basic') });
    expect(short.rows[0]).toMatchObject({ verdict: 'error', reason: 'the secret is 32 bits; at least 128 are required (settings otp.min_secret_bits)' });
    const preview = f.services.imports.preview({ format: 'pskc', text: figure('figure7-pbkdf2'), options: { passphrase: 'qwerty' } });
    expect(preview.counts).toMatchObject({ new: 1, error: 0 });
    const result = f.services.imports.commit(preview, A);
    expect(result.written.hardware_tokens).toBe(1);
    const hw = f.services.tokens.findHardware('987654321')!;
    expect(hw).toMatchObject({ kind: 'hotp', digits: 8, counter: 0, manufacturer: 'TokenVendorAcme', token_id: null });
    expect(fromBase32(hw.secret).toString()).toBe('12345678901234567890');
    const again = f.services.imports.preview({ format: 'pskc', text: figure('figure3-supplementary') });
    expect(again.rows[0]).toMatchObject({ verdict: 'error', reason: 'duplicate serial: 987654321 is already in the inventory' });
  });
});

describe('Azure OATH CSV', () => {
  beforeEach(async () => {
    await f.services.users.add({ username: 'alice' }, A);
    await f.services.users.add({ username: 'bob@example.com' }, A);
  });

  const csv = (...rows: string[]) => [AZURE_HEADER, ...rows].join('\n') + '\n';

  it('verdicts: bad base32, short secret, unknown user, duplicate serial (file and inventory), bad interval', () => {
    f.services.tokens.addHardware({ serial: 'IN-STOCK', secret: secret(9) }, A);
    const preview = f.services.imports.preview({
      format: 'azure-csv',
      text: csv(
        `alice@example.com,S1,${secret(1)},30,Feitian,c200`,
        `bob@example.com,S2,${secret(2)},60,Feitian,c200`,
        `alice@example.com,S3,NOT-BASE32!,30,Feitian,c200`,
        `alice@example.com,S4,${toBase32(Buffer.alloc(10, 4))},30,Feitian,c200`,
        `carol@example.com,S5,${secret(5)},30,Feitian,c200`,
        `alice@example.com,S6,${secret(6)},30,Feitian,c200`,
        `alice@example.com,S6,${secret(7)},30,Feitian,c200`,
        `alice@example.com,IN-STOCK,${secret(8)},30,Feitian,c200`,
        `alice@example.com,S9,${secret(10)},45,Feitian,c200`,
        `alice@example.com,S10,${secret(11)},30`,
      ),
      options: { stripDomain: true },
    });
    expect(verdicts(preview)).toEqual([[2, 'new'], [3, 'new'], [4, 'error'], [5, 'error'], [6, 'error'], [7, 'error'], [8, 'error'], [9, 'error'], [10, 'error'], [11, 'error']]);
    const reasons = preview.rows.map((r) => r.reason ?? '');
    expect(reasons[2]).toMatch(/^the secret key is not base32: "-" at position 4/);
    expect(reasons[3]).toBe('the secret is 80 bits; at least 128 are required (settings otp.min_secret_bits)');
    expect(reasons[4]).toMatch(/^unknown user: no user "carol@example.com" or "carol"/);
    expect(reasons[5]).toBe('duplicate serial: serial S6 is on lines 7, 8 of the file');
    expect(reasons[7]).toBe('duplicate serial: IN-STOCK is already in the inventory with another secret');
    expect(reasons[8]).toBe('the time interval must be 30 or 60 seconds, not "45"');
    expect(reasons[9]).toBe('4 cells; the header has 6');
    // nothing written, and a commit is refused while errors remain
    const before = tableCounts();
    expect(() => f.services.imports.commit(preview, A)).toThrow(ImportRefusedError);
    expect(tableCounts()).toEqual(before);
    // skipping the errors writes the two good rows: inventory entries assigned to their users
    const result = f.services.imports.commit(preview, A, { skipErrors: true });
    expect(result).toMatchObject({ written: { tokens: 2, hardware_tokens: 2, users: 0 }, changes: 4 });
    expect(f.services.tokens.listHardware().filter((h) => h.serial !== 'IN-STOCK').map((h) => [h.serial, h.assigned_to, h.period])).toEqual([
      ['S1', 'alice', 30],
      ['S2', 'bob@example.com', 60],
    ]);
    expect(f.services.tokens.list('alice')[0]).toMatchObject({ serial: 'S1', label: 'Feitian c200', kind: 'totp', digits: 6 });
  });

  it('UPN to user: the UPN itself, a realm that strips, listed domains; otherwise unknown or inventory only', () => {
    const rows = csv(`alice@corp.example,S1,${secret(1)},30,,`, `alice@other.example,S2,${secret(2)},30,,`);
    const unknown = f.services.imports.preview({ format: 'azure-csv', text: rows });
    expect(unknown.counts.error).toBe(2);
    const listed = f.services.imports.preview({ format: 'azure-csv', text: rows, options: { domains: ['CORP.example'] } });
    expect(verdicts(listed)).toEqual([[2, 'new'], [3, 'error']]);
    f.services.settings.set('auth.realms', '[{"name": "other.example"}]', A);
    const realm = f.services.imports.preview({ format: 'azure-csv', text: rows, options: { domains: ['corp.example'] } });
    expect(verdicts(realm)).toEqual([[2, 'new'], [3, 'new']]);
    const inventory = f.services.imports.preview({ format: 'azure-csv', text: csv(`nobody@x.example,S3,${secret(3)},30,,`), options: { unknownUser: 'inventory' } });
    expect(inventory.rows[0]).toMatchObject({ verdict: 'new', summary: expect.stringContaining('inventory only') });
    f.services.imports.commit(inventory, A);
    expect(f.services.tokens.findHardware('S3')).toMatchObject({ token_id: null });
  });

  it('a serial already in the inventory with the same secret and nobody holding it is assigned (update), then unchanged', () => {
    f.services.tokens.addHardware({ serial: 'S1', secret: secret(1), manufacturer: 'Feitian' }, A);
    const text = csv(`alice,S1,${secret(1)},30,Feitian,c200`);
    const preview = f.services.imports.preview({ format: 'azure-csv', text });
    expect(preview.rows[0]).toMatchObject({ verdict: 'update', reason: 'in the inventory already: assign it' });
    f.services.imports.commit(preview, A);
    expect(f.services.tokens.listHardware()[0]).toMatchObject({ serial: 'S1', assigned_to: 'alice' });
    expect(f.services.imports.preview({ format: 'azure-csv', text }).rows[0]!.verdict).toBe('unchanged');
  });

  it('a missing column in the header is refused with the expected header', () => {
    expect(() => f.services.imports.preview({ format: 'azure-csv', text: 'upn,serial number,secret key\n' })).toThrow(
      'missing: time interval, manufacturer, model',
    );
  });
});

describe('users CSV', () => {
  it('creates users with tokens, updates what differs, leaves the rest; groups must exist unless created', async () => {
    f.services.groups.add({ name: 'vpn' }, A);
    await f.services.users.add({ username: 'alice', display_name: 'Alice', groups: ['vpn'] }, A);
    const text = [
      'username,display name,email,groups,token secret',
      `alice,Alice Liddell,alice@example.com,,${secret(1)}`,
      `bob,Bob,bob@example.com,vpn;Staff,hex:${'ab'.repeat(20)}`,
      'carol,,,,',
      'bad name,,,,',
      `dave,,,,${toBase32(Buffer.alloc(8, 1))}`,
      'erin,,not-an-address,,',
    ].join('\n');
    const strict = f.services.imports.preview({ format: 'users-csv', text });
    expect(strict.rows[1]).toMatchObject({ verdict: 'error', reason: 'group "Staff" does not exist (create it first, or import with groups created)' });
    const preview = f.services.imports.preview({ format: 'users-csv', text, options: { createGroups: true } });
    expect(verdicts(preview)).toEqual([[2, 'update'], [3, 'new'], [4, 'new'], [5, 'error'], [6, 'error'], [7, 'error']]);
    expect(preview.rows[0]!.summary).toBe('alice: display name, email, a new token');
    expect(preview.rows[3]!.reason).toMatch(/^user name "bad name": /);
    expect(preview.rows[4]!.reason).toMatch(/^token secret: is 64 bits; at least 128 are required/);
    expect(preview.rows[5]!.reason).toBe('"not-an-address" is not an e-mail address');
    const result = f.services.imports.commit(preview, A, { skipErrors: true });
    expect(result.written).toEqual({ users: 3, tokens: 2, hardware_tokens: 0, groups: 1 });
    expect(f.services.users.get('alice')).toMatchObject({ display_name: 'Alice Liddell', email: 'alice@example.com', groups: ['vpn'], password_hash: null });
    expect(f.services.users.get('bob').groups).toEqual(['Staff', 'vpn']);
    expect(f.services.tokens.list('bob')[0]).toMatchObject({ kind: 'totp', label: 'imported' });
    expect(f.services.users.get('carol')).toMatchObject({ display_name: '', status: 'active' });
    // the same file again: nothing left to do for the good rows
    const again = f.services.imports.preview({ format: 'users-csv', text, options: { createGroups: true } });
    expect(verdicts(again).slice(0, 3)).toEqual([[2, 'unchanged'], [3, 'unchanged'], [4, 'unchanged']]);
  });

  it('a user twice in the file is an error on both lines; the header needs "username"', () => {
    const preview = f.services.imports.preview({ format: 'users-csv', text: 'username\nalice\nALICE\n' });
    expect(preview.rows.map((r) => r.reason)).toEqual(['user "alice" is on lines 2, 3 of the file', 'user "ALICE" is on lines 2, 3 of the file']);
    expect(() => f.services.imports.preview({ format: 'users-csv', text: 'name,email\n' })).toThrow(InvalidInputError);
  });

  it('export to CSV without secrets, in the import\'s column order', async () => {
    f.services.groups.add({ name: 'vpn' }, A);
    await f.services.users.add({ username: 'alice', display_name: '=HYPERLINK("x")', password: 'a-local-password', groups: ['vpn'] }, A);
    f.services.tokens.add('alice', { secret: secret(1) }, A);
    const csv = [...usersCsvChunks(f.store)].join('');
    expect(csv.split('\r\n')[0]).toBe('username,display name,email,groups,status,tokens,local password,created');
    expect(csv).toContain(`alice,"'=HYPERLINK(""x"")",,vpn,active,1,yes,`);
    expect(csv).not.toContain(secret(1));
    expect(csv).not.toContain('argon2');
  });
});

describe('commit: one transaction, all or nothing', () => {
  const usersCsv = (n: number) => ['username,token secret', ...Array.from({ length: n }, (_, i) => `user${i},${toBase32(Buffer.alloc(20, i % 250).fill(i >> 8, 0, 1))}`)].join('\n');

  it('a failure late in the commit (after several Store.commit slices) leaves the store exactly as it was', () => {
    const preview = f.services.imports.preview({ format: 'users-csv', text: usersCsv(3000) });
    expect(preview.counts.new).toBe(3000);
    const before = tableCounts();
    const nextId = f.store.getMeta('next_id:users');
    // the fault strikes inside Store.commit, after the first slices went through their own Store.commit calls
    const original = f.store.logChange.bind(f.store);
    let calls = 0;
    const spy = vi.spyOn(f.store, 'logChange').mockImplementation((change) => {
      if (++calls === 5800) throw new Error('injected fault: disk full');
      return original(change);
    });
    expect(() => f.services.imports.commit(preview, A)).toThrow('injected fault: disk full');
    expect(calls).toBe(5800);
    spy.mockRestore();
    expect(tableCounts()).toEqual(before);
    expect(f.store.getMeta('next_id:users')).toBe(nextId);
    // and then it goes through, onto the change log like any change
    const result = f.services.imports.commit(preview, A);
    expect(result.changes).toBe(6000);
    expect(tableCounts()).toMatchObject({ users: 3000, tokens: 3000, head: before.head + 6000 });
  });

  it('refuses when the store changed since the preview (the verdicts would differ)', async () => {
    const preview = f.services.imports.preview({ format: 'users-csv', text: 'username\nalice\n' });
    await f.services.users.add({ username: 'alice', display_name: 'made meanwhile' }, A);
    expect(() => f.services.imports.commit(preview, A)).toThrow(ConflictError);
    expect(() => f.services.imports.commit({ format: 'users-csv', text: 'username\nalice\n' }, A, { expectDigest: preview.digest })).toThrow(ConflictError);
  });

  it('a replica refuses the commit', () => {
    const preview = f.services.imports.preview({ format: 'users-csv', text: 'username\nalice\n' });
    f.store.setRole('replica');
    expect(() => f.services.imports.commit(preview, A)).toThrow(/read-only replica/);
  });
});
