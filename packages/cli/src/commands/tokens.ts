import { Option, type Command } from 'commander';
import { CLI_ACTOR, type TokenParameters } from '@otpgate/core';
import { withAdmin, type GlobalOptions } from '../context.js';
import { printJson, table, terminalQr } from '../output.js';
import { readStdinLine } from '../prompt.js';
import { integer, integerOrDefault } from './options.js';

const tokenOptions = (command: Command) =>
  command
    .addOption(new Option('--type <type>', 'totp or hotp').choices(['totp', 'hotp']))
    .addOption(new Option('--algorithm <alg>', 'HMAC hash').choices(['SHA1', 'SHA256', 'SHA512']))
    .addOption(new Option('--digits <n>', 'code length').choices(['6', '8']))
    .addOption(new Option('--period <s>', 'TOTP time step in seconds').choices(['30', '60']))
    .option('--counter <n>', 'HOTP: counter of the next code the token shows', integer)
    .option('--secret-stdin', 'read the secret (base32 or hex) from standard input');

/** The options tokenOptions adds (and `--secret`, which the commands add), as commander parses them. */
interface TokenOptions {
  type?: string;
  algorithm?: string;
  digits?: string;
  period?: string;
  counter?: number;
  secretStdin?: boolean;
  secret?: string;
}

async function tokenParameters(o: TokenOptions): Promise<TokenParameters> {
  return {
    kind: o.type as TokenParameters['kind'],
    algorithm: o.algorithm as TokenParameters['algorithm'],
    digits: o.digits === undefined ? undefined : (Number(o.digits) as 6 | 8),
    period: o.period === undefined ? undefined : (Number(o.period) as 30 | 60),
    counter: o.counter,
    secret: o.secretStdin ? await readStdinLine('secret') : o.secret,
  };
}

/** The token's id as an argument, parsed by commander so a non-number is reported with the argument's name. */
const withTokenId = (command: Command) => command.argument('<id>', 'token id, as "otpgate token list" shows', integer);

export function registerTokenCommands(program: Command, globals: () => GlobalOptions): void {
  const token = program.command('token').description('manage users\' tokens');

  tokenOptions(
    token
      .command('add <username>')
      .description('give a user a new token; prints its otpauth:// URI and QR code once')
      .option('--label <text>', 'what the token is, e.g. "iPhone"')
      .option('--secret <secret>', 'use this secret (base32 or hex) instead of a new random one; prefer --secret-stdin'),
  )
    .option('--json', 'machine-readable output (includes the URI)')
    .action(async (username: string, o: TokenOptions & { label?: string; json?: boolean }) => {
      await withAdmin(globals(), async ({ services }) => {
        const { token: record, uri } = services.tokens.add(username, { ...(await tokenParameters(o)), label: o.label }, CLI_ACTOR);
        if (o.json) return printJson({ id: record.id, user: username, kind: record.kind, uri });
        console.log(`token ${record.id} added for ${username} (${record.kind}, ${record.digits} digits, ${record.algorithm})`);
        console.log('Scan this with an authenticator app, or enter the URI; it is shown only now:');
        console.log(await terminalQr(uri));
        console.log(uri);
      });
    });

  token
    .command('list [username]')
    .description('list tokens (never their secrets)')
    .option('--json', 'machine-readable output')
    .action(async (username: string | undefined, o: { json?: boolean }) => {
      await withAdmin(globals(), ({ services }) => {
        const tokens = services.tokens.list(username);
        if (o.json) return printJson(tokens);
        console.log(
          table(
            ['ID', 'USER', 'TYPE', 'ALG', 'DIGITS', 'PERIOD', 'SERIAL', 'ACTIVE', 'LAST STEP', 'LABEL'],
            tokens.map((t) => [t.id, t.username, t.kind, t.algorithm, t.digits, t.kind === 'totp' ? t.period : null, t.serial, t.active, t.last_step < 0 ? null : t.last_step, t.label]),
          ),
        );
      });
    });

  withTokenId(token.command('remove'))
    .description('delete a token (a hardware token returns to the inventory)')
    .action(async (id: number) => {
      await withAdmin(globals(), ({ services }) => {
        services.tokens.remove(id, CLI_ACTOR);
        console.log(`token ${id} removed`);
      });
    });

  for (const [name, active] of [['enable', true], ['disable', false]] as const) {
    withTokenId(token.command(name))
      .description(active ? 'accept codes from a token again' : 'stop accepting codes from a token, keeping it')
      .action(async (id: number) => {
        await withAdmin(globals(), ({ services }) => {
          services.tokens.setActive(id, active, CLI_ACTOR);
          console.log(`token ${id} ${name}d`);
        });
      });
  }

  withTokenId(token.command('resync'))
    .argument('<code1>')
    .argument('<code2>')
    .description('resynchronise a drifted token from two consecutive codes')
    .action(async (id: number, code1: string, code2: string) => {
      await withAdmin(globals(), ({ services }) => {
        services.tokens.resync(id, code1, code2, CLI_ACTOR);
        console.log(`token ${id} resynchronised`);
      });
    });

  withTokenId(token.command('reset-replay'))
    .description('forget the codes the token used, on every node (when a step far ahead makes every code a replay)')
    .action(async (id: number) => {
      await withAdmin(globals(), ({ services }) => {
        services.tokens.resetReplay(id, CLI_ACTOR);
        console.log(`token ${id}: used codes forgotten on every node; its current code is accepted again`);
      });
    });

  withTokenId(token.command('window'))
    .description('set the token\'s own acceptance window (steps before/after now); "default" uses the setting')
    .requiredOption('--past <n|default>', 'steps accepted before the current one', integerOrDefault)
    .requiredOption('--future <n|default>', 'steps accepted after the current one', integerOrDefault)
    .action(async (id: number, o: { past: number | 'default'; future: number | 'default' }) => {
      const own = (n: number | 'default') => (n === 'default' ? null : n);
      await withAdmin(globals(), ({ services }) => {
        services.tokens.setWindow(id, own(o.past), own(o.future), CLI_ACTOR);
        console.log(`token ${id} window set`);
      });
    });

  token
    .command('assign <serial> <username>')
    .description('give a hardware token from the inventory to a user')
    .action(async (serial: string, username: string) => {
      await withAdmin(globals(), ({ services }) => {
        const record = services.tokens.assign(serial, username, CLI_ACTOR);
        console.log(`hardware token ${serial} assigned to ${username} (token ${record.id})`);
      });
    });

  token
    .command('unassign <serial>')
    .description('take a hardware token back into the inventory')
    .action(async (serial: string) => {
      await withAdmin(globals(), ({ services }) => {
        services.tokens.unassign(serial, CLI_ACTOR);
        console.log(`hardware token ${serial} back in the inventory`);
      });
    });

  const hardware = program.command('hardware').description('the hardware token inventory');
  tokenOptions(
    hardware
      .command('add <serial>')
      .description('add a hardware token (its secret from the vendor\'s seed file)')
      .option('--secret <secret>', 'the seed (base32 or hex); prefer --secret-stdin')
      .option('--manufacturer <name>', 'e.g. Feitian')
      .option('--model <name>', 'e.g. c200'),
  ).action(async (serial: string, o: TokenOptions & { manufacturer?: string; model?: string }) => {
    await withAdmin(globals(), async ({ services }) => {
      const hw = services.tokens.addHardware({ ...(await tokenParameters(o)), serial, manufacturer: o.manufacturer, model: o.model }, CLI_ACTOR);
      console.log(`hardware token ${hw.serial} added to the inventory`);
    });
  });

  hardware
    .command('list')
    .description('list the inventory')
    .option('--unassigned', 'only tokens not given to anyone')
    .option('--json', 'machine-readable output')
    .action(async (o: { unassigned?: boolean; json?: boolean }) => {
      await withAdmin(globals(), ({ services }) => {
        const list = services.tokens.listHardware({ assigned: o.unassigned ? false : undefined });
        if (o.json) return printJson(list);
        console.log(table(['SERIAL', 'TYPE', 'DIGITS', 'MANUFACTURER', 'MODEL', 'ASSIGNED TO'], list.map((h) => [h.serial, h.kind, h.digits, h.manufacturer, h.model, h.assigned_to])));
      });
    });

  hardware
    .command('remove <serial>')
    .description('delete an unassigned hardware token from the inventory')
    .action(async (serial: string) => {
      await withAdmin(globals(), ({ services }) => {
        services.tokens.removeHardware(serial, CLI_ACTOR);
        console.log(`hardware token ${serial} removed`);
      });
    });
}
