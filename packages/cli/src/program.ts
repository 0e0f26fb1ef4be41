import { Command, CommanderError } from 'commander';
import { OtpgateError, errorStack } from '@otpgate/shared';
import { VERSION } from '@otpgate/core';
import type { GlobalOptions } from './context.js';
import { registerNodeCommands } from './commands/node.js';
import { registerUserCommands } from './commands/users.js';
import { registerTokenCommands } from './commands/tokens.js';
import { registerClientCommands } from './commands/clients.js';
import { registerGroupCommands } from './commands/groups.js';
import { registerSettingsCommands } from './commands/settings.js';
import { registerClusterCommands } from './commands/cluster.js';
import { registerAdminCommands } from './commands/admin.js';
import { registerBackendCommands } from './commands/backends.js';
import { registerAuthLogCommands } from './commands/auth-log.js';
import { registerImportCommands } from './commands/imports.js';
import { registerConfigTransferCommands } from './commands/config-transfer.js';
import { registerStatusCommand } from './commands/status.js';
import { registerBackupCommands } from './commands/backup.js';
import { registerVpnCredentialCommands } from './commands/vpn-credentials.js';
import { registerPasskeyCommands } from './commands/passkeys.js';
import { registerSsoCommands } from './commands/sso.js';

export function buildProgram(): Command {
  const program = new Command('otpgate')
    .description('two-factor (password + one-time code) RADIUS server')
    .version(VERSION)
    .option('-c, --config <file>', 'config file (default: $OTPGATE_CONFIG, ./otpgate.yaml, /etc/otpgate/otpgate.yaml)')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  const globals = () => program.opts<GlobalOptions>();
  registerNodeCommands(program, globals);
  registerUserCommands(program, globals);
  registerTokenCommands(program, globals);
  registerClientCommands(program, globals);
  registerGroupCommands(program, globals);
  registerSettingsCommands(program, globals);
  registerClusterCommands(program, globals);
  registerAdminCommands(program, globals);
  registerBackendCommands(program, globals);
  registerAuthLogCommands(program, globals);
  registerImportCommands(program, globals);
  registerConfigTransferCommands(program, globals);
  registerStatusCommand(program, globals);
  registerBackupCommands(program, globals);
  registerVpnCredentialCommands(program, globals);
  registerPasskeyCommands(program, globals);
  registerSsoCommands(program, globals);
  program.commands.forEach(function exitOverrideAll(c: Command) {
    c.exitOverride();
    c.commands.forEach(exitOverrideAll);
  });
  return program;
}

/** Run the CLI; returns the exit code (0 ok, 1 refused or failed, 2 usage). Errors are printed, never thrown. */
export async function run(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    if (err instanceof OtpgateError) {
      process.stderr.write(`otpgate: ${err.message}\n`);
      return 1;
    }
    process.stderr.write(`otpgate: unexpected error: ${errorStack(err)}\n`);
    return 70;
  }
}
