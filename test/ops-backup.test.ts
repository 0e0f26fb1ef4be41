import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestNode } from './helpers/test-node.js';
import { otpgate, type CliResult } from './helpers/cli.js';
import { papRequest, radclient } from './helpers/radclient.js';
import { radclientBatch } from './helpers/radclient-batch.js';
import { awaitFreshStep, totpCode, wrongCode } from './helpers/otp.js';

const SECRET = 'backup-client-secret';
const PASSPHRASE = 'a backup passphrase of five words';
const USERS = ['u1', 'u2', 'u3', 'u4', 'u5', 'u6'];

describe('backup while serving, restore onto a fresh node', () => {
  let source: TestNode;
  const secrets: Record<string, string> = {};
  const withKey = () => join(source.dir, 'with-key.otpgate-backup');
  const withoutKey = () => join(source.dir, 'without-key.otpgate-backup');
  const restored: TestNode[] = [];

  beforeAll(async () => {
    source = await TestNode.create('backup-src');
    source.noteSecret(PASSPHRASE);
    await source.addClient('local', '127.0.0.1', SECRET);
    // failures must not lock the load's users out halfway
    await source.cliOk('settings', 'set', 'lockout.max_failures', '0');
    for (const u of USERS) secrets[u] = await source.addUserWithToken(u, `${u}-password`);
    await source.start();
  });
  afterAll(async () => {
    await Promise.all([source?.stop(), ...restored.map((n) => n.stop())]);
  });

  it('takes consistent backups (with and without the key) during a radclient load', async () => {
    await awaitFreshStep(20);
    let running = true;
    let batches = 0;
    // every request writes: an accept uses up a step, a reject counts a failure, each one adds an auth log row
    const load = (async () => {
      for (let round = 0; running; round++) {
        const requests = USERS.map((u, i) =>
          i === round % USERS.length ? papRequest(u, `${u}-password${totpCode(secrets[u]!)}`) : papRequest(u, `${u}-password${wrongCode(secrets[u]!)}`),
        );
        await radclientBatch(source.target, SECRET, requests, { parallel: 6 });
        batches++;
      }
    })();
    const before = source.logs().length;
    const a = await source.cliInput(PASSPHRASE, 'backup', withKey(), '--include-key', '--passphrase-stdin');
    const b = await source.cliInput(PASSPHRASE, 'backup', withoutKey(), '--passphrase-stdin');
    const during = source.logs().slice(before).filter((l) => l.event === 'auth').length;
    running = false;
    await load;
    console.log(`backups taken while ${during} requests were answered (${batches} radclient batches)`);
    expect(during).toBeGreaterThan(0);
    expect(a).toMatch(/^backup of backup-src \(master, at change \d+, 6 users\) written to .*, encrypted under the passphrase/m);
    expect(a).toContain('it includes the node key file');
    expect(b).toContain('the node key file is NOT included');
    const refused = await source.cli('backup', withKey(), '--passphrase-stdin');
    expect(refused.code).toBe(1);
  });

  it('restores the backup with the key into a fresh node that accepts the same users with the same client secret', async () => {
    const node = await TestNode.create('backup-dst', { init: false });
    restored.push(node);
    const wrong = await node.cli('restore', withKey(), '--passphrase-stdin');
    expect(wrong.code).toBe(1);
    const bad = await otpgateWithInput(node, 'not the passphrase at all', 'restore', withKey(), '--passphrase-stdin');
    expect(bad).toMatchObject({ code: 1, stderr: 'otpgate: wrong passphrase for this backup file\n' });
    const out = await node.cliInput(PASSPHRASE, 'restore', withKey(), '--passphrase-stdin');
    expect(out).toMatch(/restored backup-src's backup of .* master, at change \d+, 6 users/);
    expect(out).toContain('node key: from the backup');
    await node.start();
    await awaitFreshStep();
    // the next step's code: whatever the load used up before the backup is still used up
    for (const u of USERS) {
      const reply = await radclient(node.target, SECRET, papRequest(u, `${u}-password${totpCode(secrets[u]!, 1)}`));
      expect(reply.code, u).toBe('Access-Accept');
    }
    expect((await radclient(node.target, SECRET, papRequest('u1', `wrong-password${totpCode(secrets.u1!, 1)}`))).code).toBe('Access-Reject');
  });

  it('refuses to overwrite an initialised node unless forced', async () => {
    const node = await TestNode.create('backup-occupied');
    const refused = await otpgateWithInput(node, PASSPHRASE, 'restore', withKey(), '--passphrase-stdin');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('already holds a node');
    const forced = await node.cliInput(PASSPHRASE, 'restore', withKey(), '--passphrase-stdin', '--force');
    expect(forced).toMatch(/kept the replaced file: .*otpgate\.db\.before-restore-/);
    expect(JSON.parse(await node.cliOk('user', 'list', '--json')).users).toHaveLength(6);
  });

  it('restores a backup without the key only with the original key file', async () => {
    const node = await TestNode.create('backup-keyless', { init: false });
    restored.push(node);
    const refused = await otpgateWithInput(node, PASSPHRASE, 'restore', withoutKey(), '--passphrase-stdin');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('made without --include-key');
    const out = await node.cliInput(PASSPHRASE, 'restore', withoutKey(), '--passphrase-stdin', '--keys-from', join(source.dir, 'data'));
    expect(out).toContain('node key: from');
    await node.start();
    await awaitFreshStep();
    expect((await radclient(node.target, SECRET, papRequest('u3', `u3-password${totpCode(secrets.u3!, 1)}`))).code).toBe('Access-Accept');
  });
});

/** A command with standard input, whatever its exit code. */
function otpgateWithInput(node: TestNode, input: string, ...args: string[]): Promise<CliResult> {
  node.noteSecret(input);
  return otpgate(['-c', node.configPath, ...args], { input });
}
