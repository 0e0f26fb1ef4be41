import { Option, type Command } from 'commander';
import { CLI_ACTOR, type Services } from '@otpgate/core';
import { InvalidInputError, userRecordSchema, formatTime, type UserRecord } from '@otpgate/shared';
import { withAdmin, type GlobalOptions } from '../context.js';
import { printJson, table } from '../output.js';
import { obtainPassword } from '../prompt.js';
import { attrOption, attributesValue, collect, modeOption, modeValue, positiveInteger } from './options.js';

function dateOrNone(text: string | undefined): number | null | undefined {
  if (text === undefined) return undefined;
  if (text === 'none') return null;
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) throw new InvalidInputError(`"${text}" is not a date (e.g. 2026-12-31 or 2026-12-31T18:00Z) or "none"`, '--initial-login-until');
  return ms;
}

/** The options `user add` and `user set` share, as commander parses them. */
interface UserFields {
  displayName?: string;
  email?: string;
  group?: string[];
  mode?: string;
  attr?: string[];
}

export function registerUserCommands(program: Command, globals: () => GlobalOptions): void {
  const user = program.command('user').description('manage users');

  user
    .command('add <username>')
    .description('create a user (asks for a local password on a terminal; none for directory users)')
    .option('--display-name <name>', 'full name')
    .option('--email <address>', 'e-mail address')
    .option('--group <group>', 'member of this group (repeat for more)', collect)
    .addOption(modeOption())
    .addOption(attrOption())
    .option('--password-stdin', 'read the local password from standard input')
    .option('--no-password', 'no local password (the password is checked by a directory backend)')
    .action(async (username: string, o: UserFields & { passwordStdin?: boolean; password?: false }) => {
      await withAdmin(globals(), async ({ services }) => {
        const password = o.password === false ? null : await obtainPassword(o, username);
        const record = await services.users.add(
          {
            username,
            display_name: o.displayName,
            email: o.email,
            password: password ?? null,
            groups: o.group,
            auth_mode: modeValue(o.mode),
            attributes: attributesValue(o.attr),
          },
          CLI_ACTOR,
        );
        console.log(`user ${record.username} created${record.password_hash ? ' with a local password' : ' without a local password'}`);
        console.log(`next: otpgate token add ${record.username}`);
      });
    });

  user
    .command('set <username>')
    .description('change a user\'s name, e-mail, groups, mode or reply attributes')
    .option('--display-name <name>', 'full name')
    .option('--email <address>', 'e-mail address')
    .option('--group <group>', 'replace the groups with these (repeat for more)', collect)
    .option('--no-groups', 'remove the user from every group')
    .addOption(modeOption())
    .addOption(attrOption())
    .option('--no-attrs', 'remove the user\'s own reply attributes')
    .option('--initial-login-until <date|none>', 'allow logging in without a token until then (to enrol); none = the global allowance')
    .action(async (username: string, o: UserFields & { groups?: false; attrs?: false; initialLoginUntil?: string }) => {
      await withAdmin(globals(), ({ services }) => {
        services.users.update(
          username,
          {
            display_name: o.displayName,
            email: o.email,
            groups: o.groups === false ? [] : o.group,
            auth_mode: modeValue(o.mode),
            attributes: o.attrs === false ? [] : attributesValue(o.attr),
            initial_login_until: dateOrNone(o.initialLoginUntil),
          },
          CLI_ACTOR,
        );
        console.log(`user ${username} updated`);
      });
    });

  user
    .command('list')
    .description('list users')
    .option('--search <text>', 'in user name, display name or e-mail')
    .option('--group <group>', 'only members of this group')
    .addOption(new Option('--status <status>', 'only users with this status').choices(userRecordSchema.shape.status.options))
    .option('--locked', 'only locked accounts')
    .option('--limit <n>', 'at most this many', positiveInteger, 1000)
    .option('--json', 'machine-readable output')
    .action(async (o: { search?: string; group?: string; status?: UserRecord['status']; locked?: boolean; limit: number; json?: boolean }) => {
      await withAdmin(globals(), ({ services }) => {
        const { total, users } = services.users.list({
          search: o.search,
          group: o.group,
          status: o.status,
          locked: o.locked ? true : undefined,
          limit: o.limit,
        });
        if (o.json) return printJson({ total, users });
        console.log(
          table(
            ['USER', 'STATUS', 'TOKENS', 'LOCAL PW', 'GROUPS', 'LOCKED UNTIL'],
            users.map((u) => [
              u.username,
              u.status,
              u.tokens,
              u.has_password ? 'yes' : 'no',
              u.groups.join(',') || '-',
              u.locked_until && u.locked_until > Date.now() ? formatTime(u.locked_until) : '-',
            ]),
          ),
        );
        if (total > users.length) console.log(`(${users.length} of ${total} shown; use --search or --limit)`);
      });
    });

  user
    .command('show <username>')
    .description('a user with tokens and lockout state')
    .option('--json', 'machine-readable output')
    .action(async (username: string, o: { json?: boolean }) => {
      await withAdmin(globals(), ({ services }) => {
        const summary = services.users.summary(username);
        const tokens = services.tokens.list(summary.username);
        if (o.json) return printJson({ ...summary, tokens });
        console.log(
          table(
            ['FIELD', 'VALUE'],
            [
              ['user', summary.username],
              ['display name', summary.display_name || '-'],
              ['email', summary.email || '-'],
              ['status', summary.status],
              ['local password', summary.has_password ? 'set' : 'none'],
              ['mode', summary.auth_mode ?? 'default'],
              ['groups', summary.groups.join(', ') || '-'],
              ['attributes', summary.attributes.map((a) => `${a.name}=${a.value}`).join(', ') || '-'],
              ['failures', summary.failures],
              ['locked until', summary.locked_until && summary.locked_until > Date.now() ? formatTime(summary.locked_until) : '-'],
            ],
          ),
        );
        if (tokens.length > 0) {
          console.log('');
          console.log(table(['TOKEN', 'TYPE', 'DIGITS', 'SERIAL', 'ACTIVE', 'LABEL'], tokens.map((t) => [t.id, t.kind, t.digits, t.serial, t.active, t.label])));
        }
      });
    });

  const simple = (name: string, description: string, action: (services: Services, username: string) => void | Promise<void>, done: string) =>
    user
      .command(`${name} <username>`)
      .description(description)
      .action(async (username: string) => {
        await withAdmin(globals(), async ({ services }) => {
          await action(services, username);
          console.log(`user ${username} ${done}`);
        });
      });
  simple('remove', 'delete a user and their tokens', (s, u) => s.users.remove(u, CLI_ACTOR), 'removed');
  simple('disable', 'refuse every login of a user', (s, u) => s.users.setStatus(u, 'disabled', CLI_ACTOR), 'disabled');
  simple('enable', 'allow a disabled user again', (s, u) => s.users.setStatus(u, 'active', CLI_ACTOR), 'enabled');
  simple('unlock', 'clear a lockout after repeated failures', (s, u) => s.users.unlock(u, CLI_ACTOR), 'unlocked');

  user
    .command('set-password <username>')
    .description('set the local password (asked on a terminal, or --password-stdin)')
    .option('--password-stdin', 'read the password from standard input')
    .option('--clear', 'remove the local password')
    .action(async (username: string, o: { passwordStdin?: boolean; clear?: boolean }) => {
      await withAdmin(globals(), async ({ services }) => {
        services.users.get(username);
        const password = o.clear ? null : await obtainPassword(o, username);
        if (password === undefined) throw new InvalidInputError('no terminal to ask on: use --password-stdin');
        await services.users.setPassword(username, password, CLI_ACTOR);
        console.log(password === null ? `local password of ${username} removed` : `password of ${username} set`);
      });
    });
}
