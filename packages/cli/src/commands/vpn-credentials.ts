import type { Command } from 'commander';
import { CLI_ACTOR, VPN_CREDENTIAL_MAX_SECONDS } from '@otpgate/core';
import { withAdmin, type GlobalOptions } from '../context.js';
import { printJson } from '../output.js';
import { positiveInteger } from './options.js';

/** One-time VPN credentials an admin issues for a user (the portal issues them after a passkey or SSO sign-in). */
export function registerVpnCredentialCommands(program: Command, globals: () => GlobalOptions): void {
  const credential = program.command('vpn-credential').description('one-time VPN credentials (master only)');

  credential
    .command('issue <username>')
    .description('issue a one-time VPN password for a user: good once, on any node, until it expires (shown once, never stored)')
    .option('--client <name>', 'good only through this RADIUS client')
    .option('--seconds <n>', `lifetime in seconds (default: portal.vpn_credential_seconds; at most ${VPN_CREDENTIAL_MAX_SECONDS})`, positiveInteger)
    .option('--json', 'print as JSON')
    .action(async (username: string, o: { client?: string; seconds?: number; json?: boolean }) => {
      await withAdmin(globals(), ({ config, services }) => {
        const ttlSeconds = o.seconds ?? config.portal.vpn_credential_seconds;
        const issued = services.vpnCredentials.issue({ username, client: o.client, ttlSeconds, issuedBy: 'admin' }, CLI_ACTOR);
        const expires = new Date(issued.expiresAt).toISOString();
        if (o.json) printJson({ username: issued.username, password: issued.password, client: issued.client, expires_at: expires });
        else console.log(`user name: ${issued.username}\npassword:  ${issued.password}\nexpires:   ${expires}${issued.client ? `\nclient:    ${issued.client}` : ''}`);
      });
    });
}
