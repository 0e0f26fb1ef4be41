import type { Command } from 'commander';
import { CLI_ACTOR } from '@otpgate/core';
import { formatTime } from '@otpgate/shared';
import { withAdmin, type GlobalOptions } from '../context.js';
import { printJson, table } from '../output.js';

/**
 * Single sign-on links (user portal, portal.oidc): which identity at a provider signs in as which user. An admin lists
 * them, and removes one when the user's account at the provider was re-created (it has a new id then).
 */
export function registerSsoCommands(program: Command, globals: () => GlobalOptions): void {
  const sso = program.command('sso').description('single sign-on links: which identity at an OpenID Connect provider signs in as which user');

  sso
    .command('list [username]')
    .description("every user's links, or one user's")
    .option('--json', 'machine-readable output')
    .action(async (username: string | undefined, o: { json?: boolean }) => {
      await withAdmin(globals(), ({ services }) => {
        const list = services.oidcIdentities.list(username);
        if (o.json) return printJson(list);
        console.log(table(['USER', 'PROVIDER', 'IDENTITY', 'LINKED', 'LAST USED'], list.map((l) => [l.username, l.provider, l.subject, formatTime(l.created_at), formatTime(l.last_used_at)])));
      });
    });

  sso
    .command('unlink <username> <provider>')
    .description("forget the user's identity at the provider: the next sign-in whose name matches is linked instead")
    .action(async (username: string, provider: string) => {
      await withAdmin(globals(), ({ services }) => {
        services.oidcIdentities.unlink(username, provider, CLI_ACTOR);
        console.log(`single sign-on link of ${username} at ${provider} removed`);
      });
    });
}
