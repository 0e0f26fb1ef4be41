import { randomBytes } from 'node:crypto';
import { Option, type Command } from 'commander';
import { CLI_ACTOR, RECOMMENDED_CLIENT_SECRET_LENGTH } from '@otpgate/core';
import { InvalidInputError } from '@otpgate/shared';
import { withAdmin, type GlobalOptions } from '../context.js';
import { printJson, table } from '../output.js';
import { readStdinLine } from '../prompt.js';
import { collect, modeOption, modeValue } from './options.js';

async function secretFrom(o: { secret?: string; secretStdin?: boolean; generateSecret?: boolean }): Promise<{ secret: string | undefined; generated: boolean }> {
  if (o.generateSecret) return { secret: randomBytes(18).toString('base64url'), generated: true };
  if (o.secretStdin) return { secret: await readStdinLine('shared secret'), generated: false };
  return { secret: o.secret, generated: false };
}

/** The options `client add` and `client set` share, as commander parses them. */
interface ClientOptions {
  secret?: string;
  secretStdin?: boolean;
  generateSecret?: boolean;
  mode?: string;
  onBackendError?: 'reject' | 'drop';
  backend?: string[];
  description?: string;
}

const clientOptions = (command: Command) =>
  command
    .option('--secret <secret>', 'the shared secret (prefer --secret-stdin: arguments are visible to other users)')
    .option('--secret-stdin', 'read the shared secret from standard input')
    .option('--generate-secret', 'make a random shared secret and print it once')
    .addOption(modeOption())
    .addOption(new Option('--on-backend-error <action>', 'when the password backend cannot answer: reject, or drop so the NAS fails over').choices(['reject', 'drop']))
    .option('--backend <name>', 'this client\'s password backend chain, in order (repeat); default: auth.backends', collect)
    .option('--description <text>', 'a note for admins');

export function registerClientCommands(program: Command, globals: () => GlobalOptions): void {
  const client = program.command('client').description('manage RADIUS clients (NAS)');

  clientOptions(
    client
      .command('add <name> <address>')
      .description('allow a NAS (an IP address or a CIDR block) with its shared secret')
      .option('--no-require-message-authenticator', 'accept requests without Message-Authenticator (only for clients that cannot send it, e.g. pam_radius_auth 2.0)')
      .option('--single-factor', 'let every user of this client in with the password alone (legacy devices; logged)'),
  ).action(async (name: string, address: string, o: ClientOptions & { requireMessageAuthenticator: boolean; singleFactor?: boolean }) => {
    const { secret, generated } = await secretFrom(o);
    if (!secret) throw new InvalidInputError('give the shared secret with --secret-stdin, --secret or --generate-secret');
    await withAdmin(globals(), ({ services }) => {
      const record = services.clients.add(
        {
          name,
          address,
          secret,
          require_message_authenticator: o.requireMessageAuthenticator,
          auth_mode: modeValue(o.mode),
          on_backend_error: o.onBackendError,
          backends: o.backend,
          single_factor: o.singleFactor,
          description: o.description,
        },
        CLI_ACTOR,
      );
      console.log(`client ${record.name} (${record.address}) added`);
      if (generated) console.log(`shared secret (shown only now): ${secret}`);
      else if (secret.length < RECOMMENDED_CLIENT_SECRET_LENGTH) {
        console.warn(`warning: the shared secret is short; ${RECOMMENDED_CLIENT_SECRET_LENGTH}+ random characters resist offline guessing`);
      }
      if (!record.require_message_authenticator) {
        console.warn('warning: Message-Authenticator not required for this client: it is exposed to BlastRADIUS (CVE-2024-3596) forgeries');
      }
    });
  });

  clientOptions(
    client
      .command('set <name>')
      .description('change a client\'s address, secret or options')
      .option('--address <address>', 'IP address or CIDR block')
      .option('--require-message-authenticator <yes|no>', 'drop requests without Message-Authenticator')
      .option('--single-factor <yes|no>', 'password alone for every user of this client')
      .option('--default-backends', 'use the default backend chain again'),
  ).action(async (name: string, o: ClientOptions & { address?: string; requireMessageAuthenticator?: string; singleFactor?: string; defaultBackends?: boolean }) => {
    const { secret, generated } = await secretFrom(o);
    const yesNo = (value: string | undefined, flag: string) => {
      if (value === undefined) return undefined;
      if (!['yes', 'no'].includes(value)) throw new InvalidInputError(`${flag} takes yes or no`);
      return value === 'yes';
    };
    const require = yesNo(o.requireMessageAuthenticator, '--require-message-authenticator');
    const singleFactor = yesNo(o.singleFactor, '--single-factor');
    await withAdmin(globals(), ({ services }) => {
      services.clients.update(
        name,
        {
          address: o.address,
          secret,
          require_message_authenticator: require,
          auth_mode: modeValue(o.mode),
          on_backend_error: o.onBackendError,
          backends: o.defaultBackends ? null : o.backend,
          single_factor: singleFactor,
          description: o.description,
        },
        CLI_ACTOR,
      );
      console.log(`client ${name} updated`);
      if (generated) console.log(`shared secret (shown only now): ${secret}`);
    });
  });

  client
    .command('list')
    .description('list clients (secrets masked)')
    .option('--json', 'machine-readable output')
    .action(async (o: { json?: boolean }) => {
      await withAdmin(globals(), ({ services }) => {
        const list = services.clients.list();
        if (o.json) return printJson(list);
        console.log(
          table(
            ['NAME', 'ADDRESS', 'MESSAGE-AUTH', 'MODE', 'BACKENDS', 'ON BACKEND ERROR', 'SECRET'],
            list.map((c) => [
              c.name,
              c.address,
              c.require_message_authenticator ? 'required' : 'optional',
              `${c.auth_mode ?? 'default'}${c.single_factor ? ', single-factor' : ''}`,
              c.backends?.join('>') ?? 'default',
              c.on_backend_error,
              c.secret,
            ]),
          ),
        );
      });
    });

  client
    .command('remove <name>')
    .description('stop serving a NAS')
    .action(async (name: string) => {
      await withAdmin(globals(), ({ services }) => {
        services.clients.remove(name, CLI_ACTOR);
        console.log(`client ${name} removed`);
      });
    });
}
