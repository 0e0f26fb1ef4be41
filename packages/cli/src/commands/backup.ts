import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import {
  CLI_ACTOR,
  VERSION,
  checkPassphraseStrength,
  recordAdminAction,
  nodeName,
  readBackupHeader,
  readBackupStart,
  restoreBackup,
  writeBackup,
} from '@otpgate/core';
import { InvalidInputError, errorMessage } from '@otpgate/shared';
import { cliLogger, loadConfig, type GlobalOptions } from '../context.js';
import { promptHidden, readStdinLine } from '../prompt.js';

/** --passphrase-stdin, else asked on the terminal (twice for a new backup). */
async function obtainPassphrase(fromStdin: boolean | undefined, confirm: boolean): Promise<string> {
  if (fromStdin) return readStdinLine('passphrase');
  if (!process.stdin.isTTY) throw new InvalidInputError('give the backup passphrase with --passphrase-stdin, or run on a terminal to be asked for it');
  const first = await promptHidden('Backup passphrase: ');
  if (!confirm) return first;
  checkPassphraseStrength(first);
  if ((await promptHidden('Again: ')) !== first) throw new InvalidInputError('the two passphrases differ');
  return first;
}

const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

async function readStartOrFail(path: string): Promise<Buffer> {
  try {
    return await readBackupStart(path);
  } catch (err) {
    throw new InvalidInputError(`cannot read ${path}: ${errorMessage(err)}`);
  }
}

export function registerBackupCommands(program: Command, globals: () => GlobalOptions): void {
  program
    .command('backup <file>')
    .description('a consistent copy of this node\'s data, taken while it serves, encrypted under a passphrase')
    .option('--include-key', 'also the node key file and the cluster\'s private keys (without: the database stays sealed under the node key)')
    .option('--passphrase-stdin', 'read the passphrase from standard input (default: asked twice on the terminal)')
    .option('--force', 'overwrite FILE if it exists')
    .action(async (file: string, o: { includeKey?: boolean; passphraseStdin?: boolean; force?: boolean }) => {
      const config = loadConfig(globals());
      const out = resolve(file);
      if (existsSync(out) && !o.force) throw new InvalidInputError(`${out} exists; choose another name, or add --force to overwrite it`);
      const passphrase = await obtainPassphrase(o.passphraseStdin, true);
      checkPassphraseStrength(passphrase);
      let content;
      try {
        content = await writeBackup(config.node.data_dir, out, passphrase, { includeKeys: o.includeKey ?? false, node: nodeName(config), version: VERSION, force: o.force });
      } catch (err) {
        // the file system's refusals (the folder missing, no room, no permission, the file made meanwhile)
        const e = err as NodeJS.ErrnoException;
        if (e.code === 'EEXIST') throw new InvalidInputError(`${out} exists; choose another name, or add --force to overwrite it`);
        if (e.syscall !== undefined) throw new InvalidInputError(`cannot write ${out}: ${e.message}`);
        throw err;
      }
      const m = content.manifest;
      recordAdminAction({ logger: cliLogger(config) }, CLI_ACTOR, 'backup', out, { details: { include_key: m.includes_keys, head_seq: m.head_seq, bytes: content.bytes } });
      console.log(`backup of ${m.node} (${m.role}, at change ${m.head_seq}, ${content.users} users) written to ${out} (${mib(content.bytes)}), encrypted under the passphrase`);
      if (m.includes_keys) {
        console.log('it includes the node key file and the cluster\'s private keys: whoever has the file and the passphrase has every secret; keep both apart');
      } else {
        console.log(
          `the node key file is NOT included: token and client secrets in it stay sealed under ${config.node.data_dir}/secret.key (key id ${m.key_id}). ` +
            'Keep a copy of that file somewhere safe: a restore needs it (--keys-from), or use --include-key',
        );
      }
    });

  program
    .command('restore <file>')
    .description('put a backup into this node\'s data folder (a fresh node; --force to replace one), then start it with "otpgate serve"')
    .option('--passphrase-stdin', 'read the passphrase from standard input (default: asked on the terminal)')
    .option('--keys-from <path>', 'for a backup without the key: the original data folder (or its secret.key) holding the node key and cluster keys')
    .option('--force', 'replace the node already in the data folder (stop it first; its files are kept beside, renamed)')
    .action(async (file: string, o: { passphraseStdin?: boolean; keysFrom?: string; force?: boolean }) => {
      const config = loadConfig(globals());
      const path = resolve(file);
      readBackupHeader(await readStartOrFail(path)); // "not a backup" before asking for a passphrase
      const passphrase = await obtainPassphrase(o.passphraseStdin, false);
      const result = await restoreBackup(config.node.data_dir, path, passphrase, { force: o.force, keysFrom: o.keysFrom });
      const m = result.manifest;
      recordAdminAction({ logger: cliLogger(config) }, CLI_ACTOR, 'restore', path, { details: { from_node: m.node, head_seq: result.headSeq, key: result.keySource } });
      console.log(`restored ${m.node}'s backup of ${m.created_at} into ${config.node.data_dir}: ${result.role}, at change ${result.headSeq}, ${result.users} users`);
      console.log(`node key: ${result.keySource === 'backup' ? 'from the backup' : result.keySource === 'keys-from' ? `from ${o.keysFrom}` : 'the one already in the data folder'} (it opens the restored secrets)`);
      for (const p of result.setAside) console.log(`kept the replaced file: ${p}`);
      for (const w of result.warnings) console.log(`note: ${w}`);
      if (result.role === 'replica') console.log('next: otpgate serve (the replica catches up with its master from the change above)');
      else console.log('next: otpgate serve; replicas that are ahead of this backup notice the master\'s history changed and re-sync from a snapshot');
    });
}
