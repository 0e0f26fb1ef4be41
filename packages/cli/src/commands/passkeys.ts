import type { Command } from 'commander';
import { CLI_ACTOR } from '@otpgate/core';
import { withAdmin, type GlobalOptions } from '../context.js';
import { formatTime } from '@otpgate/shared';
import { printJson, table } from '../output.js';

/** Users' passkeys and security keys (registered on the user portal): list, and remove a lost one. */
export function registerPasskeyCommands(program: Command, globals: () => GlobalOptions): void {
  const passkey = program.command('passkey').description("users' passkeys and security keys (registered on the user portal)");

  passkey
    .command('list [username]')
    .description("every user's passkeys, or one user's")
    .option('--json', 'machine-readable output')
    .action(async (username: string | undefined, o: { json?: boolean }) => {
      await withAdmin(globals(), ({ services }) => {
        const list = services.passkeys.list(username);
        if (o.json) return printJson(list.map(({ public_key: _key, ...rest }) => rest));
        console.log(
          table(
            ['USER', 'ID', 'LABEL', 'PASSWORDLESS', 'COUNTER', 'CREATED', 'LAST USED'],
            list.map((p) => [p.username, p.id, p.label, p.passwordless, p.counter, formatTime(p.created_at), formatTime(p.last_used_at)]),
          ),
        );
      });
    });

  passkey
    .command('remove <username> <id>')
    .description('remove a passkey (lost or stolen): it signs in nowhere from now on')
    .action(async (username: string, id: string) => {
      await withAdmin(globals(), ({ services }) => {
        services.passkeys.remove(username, id, CLI_ACTOR);
        console.log(`passkey ${id} of ${username} removed`);
      });
    });
}
