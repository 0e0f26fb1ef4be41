/** Generated users for imports, shared by the end-to-end tests and the benches. */
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { toBase32 } from '@otpgate/core';

/** The name of user `i` of a generated file: PREFIX + six digits. */
export const csvUserName = (prefix: string, i: number) => `${prefix}${String(i).padStart(6, '0')}`;

/**
 * Each generated user's TOTP secret, derived from the name (160 bits, base32): a test or bench knows it without a
 * lookup.
 */
export const csvUserSecret = (username: string) => toBase32(createHash('sha1').update(`otpgate-e2e:${username}`).digest());

/**
 * A users CSV for `otpgate import users-csv` (username, display name, email, groups, token secret): users
 * PREFIX000000 ... of `count` rows from `first`, each with a TOTP token, in no group.
 */
export function writeUsersCsv(path: string, prefix: string, count: number, first = 0): void {
  const lines = ['username,display name,email,groups,token secret'];
  for (let i = first; i < first + count; i++) {
    const name = csvUserName(prefix, i);
    lines.push(`${name},User ${i},${name}@example.com,,${csvUserSecret(name)}`);
  }
  writeFileSync(path, lines.join('\r\n') + '\r\n');
}
