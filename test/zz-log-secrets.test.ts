import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { OUTPUT_DIR } from './helpers/paths.js';
import { SECRETS_FILE } from './helpers/test-node.js';
import { logFilesUnder, notedSecrets, scanForSecrets } from './helpers/secret-scan.js';

/**
 * Runs last (its own vitest project, after every end-to-end file): no log any node wrote during the suite — the JSON
 * serve.log files, each node's cli.log (its commands' lines at info), the syslog captures, Prometheus's log — holds a
 * password, client secret, token seed, bearer token or backup passphrase that a test gave a node (TestNode notes each
 * one in its folder's secrets.json).
 */
describe('no secret in any log the suite produced', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'otpgate-scan-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it('the scan finds a secret planted on purpose, in every form it could be logged in', () => {
    const password = 'planted-password-123';
    const seed = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';
    const leaky = join(scratch, 'leaky.log');
    const clean = join(scratch, 'clean.log');
    writeFileSync(
      leaky,
      [
        JSON.stringify({ level: 'info', event: 'auth', user: 'alice', result: 'accept' }),
        JSON.stringify({ level: 'debug', msg: 'request', password: `${password}654321` }),
        `<38>1 2025-01-01T00:00:00Z host otpgate 1 admin - {"note":"seed ${seed}"}`,
        JSON.stringify({ level: 'error', buffer: Buffer.from(password).toString('hex').toUpperCase() }),
        // the seed's key bytes, as a logged Buffer would show them
        JSON.stringify({ level: 'error', key: '48656c6c6f21deadbeef48656c6c6f21deadbeef' }),
      ].join('\n'),
    );
    writeFileSync(clean, `${JSON.stringify({ level: 'info', event: 'auth', user: 'alice', password: '[redacted]' })}\n`);
    const findings = scanForSecrets([leaky, clean], [password, seed, 'JBSWY3DPEHPK3PXP']);
    expect(findings.map((f) => [f.line, f.form])).toEqual([
      [2, 'plain'],
      [3, 'plain'],
      [3, 'plain'],
      [4, 'hex'],
      [5, 'key-hex'],
      [5, 'key-hex'],
    ]);
    expect(findings.every((f) => f.file === leaky)).toBe(true);
    expect(JSON.stringify(findings)).not.toContain(password); // the report itself does not repeat the secret
    expect(scanForSecrets([clean], [password, seed])).toEqual([]);
  });

  it('finds none of the secrets the end-to-end tests used in their logs', () => {
    const root = join(OUTPUT_DIR, 'nodes');
    const secrets = notedSecrets(root, SECRETS_FILE);
    const files = logFilesUnder(root);
    expect(secrets.size, 'no secrets.json under test-output/nodes: run the end-to-end tests first').toBeGreaterThan(0);
    expect(files.some((f) => f.endsWith('serve.log'))).toBe(true);
    const findings = scanForSecrets(files, secrets);
    console.log(`scanned ${files.length} log files for ${secrets.size} secrets: ${findings.length} found`);
    expect(findings, findings.slice(0, 20).map((f) => `${f.file}:${f.line} (${f.form} ${f.secret})`).join('\n')).toEqual([]);
  });
});
