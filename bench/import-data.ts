/**
 * Test files for bench/import.sh: a users CSV (username, display name, email, groups, token secret) and an Azure
 * OATH token CSV for the same users, ROWS rows each. Secrets are derived from the row number (deterministic, 160
 * bits), so two runs import the same files.
 *
 * Usage: node bench/results/build/import-data.js ROWS OUT_DIR
 */
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { toBase32 } from '@otpgate/core';

const [rowsArg = '100000', outDir = '.'] = process.argv.slice(2);
const rows = Number(rowsArg);
if (!Number.isInteger(rows) || rows < 1) {
  console.error('usage: import-data.js ROWS OUT_DIR');
  process.exit(2);
}
mkdirSync(outDir, { recursive: true });
const secret = (kind: string, i: number) => toBase32(createHash('sha1').update(`${kind}:${i}`).digest());

const users = ['username,display name,email,groups,token secret'];
const azure = ['upn,serial number,secret key,time interval,manufacturer,model'];
for (let i = 0; i < rows; i++) {
  const name = `user${String(i).padStart(6, '0')}`;
  users.push(`${name},User ${i},${name}@example.com,${i % 2 === 0 ? 'vpn' : 'vpn;staff'},${secret('app', i)}`);
  azure.push(`${name}@example.com,HW${String(i).padStart(8, '0')},${secret('hw', i)},${i % 10 === 0 ? 60 : 30},Feitian,c200`);
}
writeFileSync(join(outDir, 'users.csv'), users.join('\r\n') + '\r\n');
writeFileSync(join(outDir, 'azure.csv'), azure.join('\r\n') + '\r\n');
console.log(`wrote ${rows} rows to ${join(outDir, 'users.csv')} and ${join(outDir, 'azure.csv')}`);
