import { randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import { AdminAuditService, BUILTIN_ADMIN, CLI_ACTOR } from '@otpgate/core';
import { InvalidInputError, formatTime } from '@otpgate/shared';
import { withAdmin, type GlobalOptions } from '../context.js';
import { printJson, table } from '../output.js';
import { obtainPassword, readStdinLine } from '../prompt.js';
import { expiryWarning } from '../admin-certificate.js';
import { loadMaster } from '../lazy.js';
import { readImportFile } from './imports.js';

/** A strong random admin password (printed once). */
export function generatePassword(): string {
  return randomBytes(15).toString('base64url');
}

export function registerAdminCommands(program: Command, globals: () => GlobalOptions): void {
  const admin = program.command('admin').description('admin accounts of the web UI (replicated to every node)');

  admin
    .command('set-password [username]')
    .description(`set an admin's password (default account "${BUILTIN_ADMIN}"); asked on a terminal`)
    .option('--password-stdin', 'read the password from standard input')
    .option('--generate', 'make a random password and print it once')
    .action(async (username: string | undefined, o: { passwordStdin?: boolean; generate?: boolean }) => {
      const name = username ?? BUILTIN_ADMIN;
      await withAdmin(globals(), async ({ store, services }) => {
        store.assertWritable(); // a replica refuses before asking for a password
        const password = o.generate ? generatePassword() : await obtainPassword(o, `admin ${name}`);
        if (!password) throw new InvalidInputError('no terminal to ask on: use --password-stdin or --generate');
        await services.admins.setPassword(name, password, CLI_ACTOR);
        console.log(o.generate ? `password of admin ${name} (shown only now): ${password}` : `password of admin ${name} set`);
      });
    });

  admin
    .command('remove <username>')
    .description(`remove an admin account; its UI sessions end at their next request, on every node (not "${BUILTIN_ADMIN}")`)
    .action(async (username: string) => {
      await withAdmin(globals(), ({ services }) => {
        services.admins.remove(username, CLI_ACTOR);
        console.log(`admin ${username} removed`);
      });
    });

  admin
    .command('verify-password [username]')
    .description('check a password (from standard input) against an admin account: exit 0 if right, 1 if not')
    .action(async (username: string | undefined) => {
      const name = username ?? BUILTIN_ADMIN;
      const password = await readStdinLine('password');
      await withAdmin(globals(), async ({ services }) => {
        const ok = await services.admins.verify(name, password);
        console.log(ok ? 'password accepted' : 'password refused');
        if (!ok) process.exitCode = 1;
      });
    });

  admin
    .command('list')
    .description('list admin accounts')
    .option('--json', 'machine-readable output')
    .action(async (o: { json?: boolean }) => {
      await withAdmin(globals(), ({ services }) => {
        const list = services.admins.list();
        if (o.json) return printJson(list);
        console.log(table(['ADMIN', 'CREATED', 'PASSWORD CHANGED'], list.map((a) => [a.username, formatTime(a.created_at), formatTime(a.updated_at)])));
      });
    });

  admin
    .command('set-certificate')
    .description("replace the admin web UI's HTTPS certificate with your own (PEM files); used from the next start of the node")
    .requiredOption('--cert <file>', 'the certificate (PEM)')
    .requiredOption('--key <file>', 'its private key (PEM, not encrypted)')
    .option('--chain <file>', 'the intermediate certificates (PEM)')
    .action(async (o: { cert: string; key: string; chain?: string }) => {
      const cert = readImportFile(o.cert);
      const key = readImportFile(o.key);
      const chain = o.chain ? readImportFile(o.chain) : '';
      const { CERTIFICATE_WARNING_DAYS, replaceAdminCertificate } = await loadMaster();
      await withAdmin(globals(), ({ store, logger }) => {
        const info = replaceAdminCertificate(store.dataDir, { certificate: cert, key, chain }, new AdminAuditService(store, logger), CLI_ACTOR);
        console.log(`admin UI certificate installed: ${info.names || info.subject}, valid until ${formatTime(info.validTo)} (${info.daysLeft} days)`);
        const warning = expiryWarning(info, CERTIFICATE_WARNING_DAYS);
        if (warning) process.stderr.write(`otpgate: ${warning}\n`);
        console.log('restart the node to use it (systemctl restart otpgate)');
      });
    });
}
