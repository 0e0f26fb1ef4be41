import { createWriteStream, readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createInterface } from 'node:readline/promises';
import { Option, type Command } from 'commander';
import { CLI_ACTOR, usersCsvChunks, pskFromHex, type ImportInput, type ImportPreview, type ImportResult } from '@otpgate/core';
import { InvalidInputError, errorMessage, errorCode } from '@otpgate/shared';
import { withAdmin, type GlobalOptions } from '../context.js';
import { printJson } from '../output.js';
import { readStdinLine } from '../prompt.js';
import { progressBar } from '../progress.js';
import { collect } from './options.js';

/** Error rows printed in full; beyond this many the rest are counted (all of them are in --json). */
const SHOWN_ERRORS = 200;
/** Small files get every row listed in the preview. */
const LIST_ALL_BELOW = 50;

interface CommonOptions {
  commit?: boolean;
  skipErrors?: boolean;
  json?: boolean;
  progress?: boolean;
}

export function readImportFile(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new InvalidInputError(`cannot read ${file}: ${errorCode(err) === 'ENOENT' ? 'no such file' : errorMessage(err)}`, 'FILE');
  }
}

function printPreview(preview: ImportPreview): void {
  const c = preview.counts;
  console.log(`${c.total} ${preview.unit === 'line' ? 'rows' : 'key packages'}: ${c.new} new, ${c.update} update, ${c.unchanged} unchanged, ${c.skip} skipped, ${c.error} with errors`);
  for (const note of preview.notes) console.log(`note: ${note}`);
  const listed = preview.rows.length < LIST_ALL_BELOW ? preview.rows : preview.rows.filter((r) => r.verdict === 'error').slice(0, SHOWN_ERRORS);
  for (const r of listed) console.log(`  ${preview.unit} ${r.line}: ${r.verdict}: ${r.summary}${r.reason ? ` — ${r.reason}` : ''}`);
  const shownErrors = listed.filter((r) => r.verdict === 'error').length;
  if (c.error > shownErrors) console.log(`  ... and ${c.error - shownErrors} more errors (--json lists every row)`);
}

async function confirm(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(question)).trim());
  } finally {
    rl.close();
  }
}

/** Preview, then commit when told (--commit) or when the admin says yes on a terminal. */
async function runImport(globals: GlobalOptions, o: CommonOptions, input: ImportInput): Promise<void> {
  await withAdmin(globals, async ({ services }) => {
    const bar = progressBar({ force: o.progress });
    const onProgress = (phase: string, done: number, total: number) => bar.update(phase, done, total);
    const preview = services.imports.preview(input, onProgress);
    bar.finish();
    if (!o.json) printPreview(preview);
    const writable = preview.counts.new + preview.counts.update;
    const refuse = preview.counts.error > 0 && !o.skipErrors;
    let result: ImportResult | undefined;
    let commit = o.commit === true;
    if (!commit && !refuse && writable > 0 && !o.json && process.stdin.isTTY && process.stdout.isTTY) {
      commit = await confirm(`Import ${writable} ${preview.unit === 'line' ? 'rows' : 'keys'}${preview.counts.error ? ` (leaving out ${preview.counts.error} with errors)` : ''}? [y/N] `);
    }
    if (commit && refuse) {
      if (o.json) printJson({ preview, committed: false });
      throw new InvalidInputError(`${preview.counts.error} rows have errors; nothing was written. Fix them, or add --skip-errors to import the other rows`);
    }
    if (commit && writable > 0) {
      result = services.imports.commit(preview, CLI_ACTOR, { skipErrors: o.skipErrors, onProgress });
      bar.finish();
    }
    if (o.json) printJson({ preview, committed: result !== undefined, result });
    else if (result) {
      const w = result.written;
      console.log(`imported: ${w.users} users, ${w.tokens} tokens, ${w.hardware_tokens} inventory entries, ${w.groups} groups written (${result.changes} changes, log head ${result.head_seq})`);
    } else if (writable === 0) console.log('nothing to import');
    else console.log('preview only: nothing was written (add --commit to import)');
    if (preview.counts.error > 0 && !result) process.exitCode = 1;
  });
}

const common = (command: Command) =>
  command
    .option('--commit', 'write the import (without it: a preview, or a question on a terminal)')
    .option('--skip-errors', 'import the good rows and leave out the rows with errors')
    .option('--progress', 'show progress on stderr even when it is not a terminal')
    .option('--json', 'machine-readable preview and result');

export function registerImportCommands(program: Command, globals: () => GlobalOptions): void {
  const imp = program.command('import').description('import hardware tokens and users from files (a preview first; --commit writes)');

  common(
    imp
      .command('azure-csv <file>')
      .description('Microsoft Entra OATH token CSV (upn,serial number,secret key,time interval,manufacturer,model): inventory entries assigned to the users')
      .option('--strip-domain', 'match user@domain to the user "user" when no user has the full UPN')
      .option('--domain <domain>', 'strip only this domain from UPNs (repeat for more; realms with strip always apply)', collect)
      .addOption(new Option('--unknown-users <what>', 'rows whose user does not exist').choices(['error', 'inventory']).default('error')),
  ).action(async (file: string, o: CommonOptions & { stripDomain?: boolean; domain?: string[]; unknownUsers: 'error' | 'inventory' }) => {
    const text = readImportFile(file);
    await runImport(globals(), o, { format: 'azure-csv', text, options: { stripDomain: o.stripDomain, domains: o.domain, unknownUser: o.unknownUsers } });
  });

  common(
    imp
      .command('pskc <file>')
      .description('PSKC (RFC 6030) seed file from a token vendor: into the hardware token inventory')
      .addOption(new Option('--psk-hex-stdin', 'read the pre-shared AES key (hex) from standard input').conflicts('passphraseStdin'))
      .option('--passphrase-stdin', 'read the passphrase (PBKDF2-encrypted files) from standard input'),
  ).action(async (file: string, o: CommonOptions & { pskHexStdin?: boolean; passphraseStdin?: boolean }) => {
    const text = readImportFile(file);
    const psk = o.pskHexStdin ? pskFromHex(await readStdinLine('pre-shared key')) : undefined;
    const passphrase = o.passphraseStdin ? await readStdinLine('passphrase') : undefined;
    await runImport(globals(), o, { format: 'pskc', text, options: { psk, passphrase } });
  });

  common(
    imp
      .command('users-csv <file>')
      .description('users CSV (username,display name,email,groups,token secret; groups separated by ";"): creates and updates users')
      .option('--create-groups', 'create groups the file names that do not exist yet'),
  ).action(async (file: string, o: CommonOptions & { createGroups?: boolean }) => {
    const text = readImportFile(file);
    await runImport(globals(), o, { format: 'users-csv', text, options: { createGroups: o.createGroups } });
  });

  const user = program.commands.find((c) => c.name() === 'user') ?? program.command('user').description('manage users');
  user
    .command('export-csv [file]')
    .description('every user as CSV without secrets (username,display name,email,groups,...); stdout without FILE')
    .action(async (file: string | undefined) => {
      await withAdmin(globals(), async ({ store }) => {
        // a page of users at a time, written as the file or the pipe takes it: a million users never in memory
        await pipeline(Readable.from(usersCsvChunks(store)), file ? createWriteStream(file, { mode: 0o640 }) : process.stdout);
        if (file) process.stderr.write(`users written to ${file}\n`);
      });
    });
}
