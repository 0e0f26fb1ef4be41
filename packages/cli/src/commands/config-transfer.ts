import { chmodSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import type { Command } from 'commander';
import { CLI_ACTOR, VERSION, type ConfigImportPreview, type EntityChanges } from '@otpgate/core';
import { InvalidInputError } from '@otpgate/shared';
import { withAdmin, type GlobalOptions } from '../context.js';
import { printJson } from '../output.js';
import { promptHidden, readStdinLine } from '../prompt.js';
import { readImportFile } from './imports.js';

/** Names listed per entity and kind of change; the rest are counted (--json has them all). */
const NAMES_SHOWN = 10;

function names(list: readonly string[]): string {
  if (list.length === 0) return '';
  const shown = list.slice(0, NAMES_SHOWN).join(', ');
  return ` (${shown}${list.length > NAMES_SHOWN ? `, … ${list.length - NAMES_SHOWN} more` : ''})`;
}

/** One line of an import preview: counts, and the first names of each kind of change. */
export function entityLine(label: string, c: EntityChanges | undefined): string {
  if (!c) return `${label}: not in the document (left as they are)`;
  return `${label}: ${c.new.length} new${names(c.new)}, ${c.changed.length} changed${names(c.changed)}, ${c.unchanged.length} unchanged, ${c.removed.length} removed${names(c.removed)}`;
}

function printConfigPreview(p: ConfigImportPreview): void {
  console.log(`config document version ${p.source_version}, exported ${p.exported_at} by ${p.generator}${p.secrets_included ? ', with secrets' : ', without secrets'}`);
  for (const m of p.migrations) console.log(`migrated: ${m}`);
  console.log(`settings: ${p.settings.changed ? `changed (${p.settings.sections.join(', ')})` : 'unchanged'}`);
  console.log(entityLine('groups', p.groups));
  console.log(entityLine('clients', p.clients));
  console.log(entityLine('users', p.users));
  if (p.users) console.log(entityLine('tokens', p.tokens));
  if (p.users) console.log(entityLine('hardware tokens', p.hardware_tokens));
  for (const w of p.warnings) console.log(`warning: ${w}`);
}

async function newPassphrase(fromStdin: boolean | undefined): Promise<string> {
  if (fromStdin) return readStdinLine('passphrase');
  if (!process.stdin.isTTY) throw new InvalidInputError('--with-secrets needs a passphrase: --passphrase-stdin, or run on a terminal to be asked');
  const first = await promptHidden('Passphrase for the secrets: ');
  if ((await promptHidden('Again: ')) !== first) throw new InvalidInputError('the two passphrases differ');
  return first;
}

export function registerConfigTransferCommands(program: Command, globals: () => GlobalOptions): void {
  const config =
    program.commands.find((c) => c.name() === 'config') ?? program.command('config').description('the node configuration file');
  config.description(`${config.description()}; export and import of the cluster configuration`);

  config
    .command('export [file]')
    .description('write settings, clients, groups and backends (optionally users, tokens and the inventory) as one JSON document; stdout without FILE')
    .option('--with-users', 'include users; with --with-secrets also their tokens, local password hashes and the hardware inventory')
    .option('--with-secrets', 'include the secrets, encrypted under a passphrase (scrypt, AES-256-GCM)')
    .option('--passphrase-stdin', 'read the passphrase from standard input (with --with-secrets)')
    .action(async (file: string | undefined, o: { withUsers?: boolean; withSecrets?: boolean; passphraseStdin?: boolean }) => {
      if (o.passphraseStdin && !o.withSecrets) throw new InvalidInputError('--passphrase-stdin is only used with --with-secrets');
      const passphrase = o.withSecrets ? await newPassphrase(o.passphraseStdin) : undefined;
      await withAdmin(globals(), async ({ services, config: nodeConfig }) => {
        const document = await services.configTransfer.export(
          {
            users: o.withUsers,
            secrets: passphrase === undefined ? undefined : { passphrase },
            generator: `otpgate ${VERSION} on ${nodeConfig.node.name ?? hostname()}`,
          },
          CLI_ACTOR,
        );
        const text = JSON.stringify(document, null, 2) + '\n';
        const b = document.body;
        const what = `${b.groups.length} groups, ${b.clients.length} clients, ${b.settings.backends.length} backends${b.users ? `, ${b.users.length} users` : ''}${b.tokens ? `, ${b.tokens.length} tokens, ${b.hardware_tokens?.length ?? 0} hardware tokens` : ''}`;
        if (file) {
          writeFileSync(file, text, { mode: 0o600 });
          chmodSync(file, 0o600);
          process.stderr.write(`exported ${what}${document.secrets ? ' with encrypted secrets' : ' (no secrets)'} to ${file}\n`);
        } else process.stdout.write(text);
      });
    });

  config
    .command('import <file>')
    .description('apply an exported document in one transaction: every section in it replaces this node\'s (shows the changes first)')
    .option('--dry-run', 'only show what would change')
    .option('--passphrase-stdin', 'read the passphrase of the document\'s secrets from standard input')
    .option('--json', 'machine-readable result')
    .action(async (file: string, o: { dryRun?: boolean; passphraseStdin?: boolean; json?: boolean }) => {
      const text = readImportFile(file);
      let passphrase = o.passphraseStdin ? await readStdinLine('passphrase') : undefined;
      await withAdmin(globals(), async ({ services }) => {
        const transfer = services.configTransfer;
        let opened;
        try {
          opened = await transfer.open(text, passphrase);
        } catch (err) {
          // asked on a terminal only when the document turns out to hold secrets
          if (!(err instanceof InvalidInputError && err.field === 'passphrase' && passphrase === undefined && process.stdin.isTTY)) throw err;
          passphrase = await promptHidden('Passphrase of the exported secrets: ');
          opened = await transfer.open(text, passphrase);
        }
        const preview = o.dryRun ? transfer.preview(opened) : transfer.apply(opened, CLI_ACTOR);
        if (o.json) return printJson({ applied: !o.dryRun, ...preview });
        printConfigPreview(preview);
        if (o.dryRun) console.log(`dry run: nothing written (${preview.changes} changes would be made)`);
        else console.log(preview.changes === 0 ? 'nothing to change' : `imported: ${preview.changes} changes applied in one transaction`);
      });
    });
}
