import type { Command } from 'commander';
import { CLI_ACTOR } from '@otpgate/core';
import { maskSettingsSecrets } from '@otpgate/shared';
import { withAdmin, type GlobalOptions } from '../context.js';
import { printJson } from '../output.js';

export function registerSettingsCommands(program: Command, globals: () => GlobalOptions): void {
  const settings = program.command('settings').description('cluster-wide settings (OTP windows, lockout, login policy)');

  settings
    .command('show')
    .description('print the settings (JSON)')
    .action(async () => {
      await withAdmin(globals(), ({ services }) => printJson(maskSettingsSecrets(services.settings.get())));
    });

  settings
    .command('set <path> <value>')
    .description('set one setting, e.g. "lockout.max_failures 3" or "auth.default_mode challenge"')
    .action(async (path: string, value: string) => {
      await withAdmin(globals(), ({ services }) => {
        services.settings.set(path, value, CLI_ACTOR);
        console.log(`${path} set`);
      });
    });
}
