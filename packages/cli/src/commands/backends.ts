import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { CLI_ACTOR } from '@otpgate/core';
import { InvalidInputError, defaultUserFilter, type BackendSettings, errorMessage } from '@otpgate/shared';
import { withAdmin, type GlobalOptions } from '../context.js';
import { printJson, table } from '../output.js';
import { readStdinLine } from '../prompt.js';
import { collect, integer } from './options.js';

function caFile(path: string | undefined): string | undefined {
  if (!path) return undefined;
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new InvalidInputError(`cannot read ${path}: ${errorMessage(err)}`, '--ca-file');
  }
}

/** "CN=VPN,OU=Groups,DC=example,DC=com=vpn": the last "=" separates the directory group from the otpgate group. */
export function groupMap(list: string[] | undefined): Record<string, string> | undefined {
  if (!list) return undefined;
  return Object.fromEntries(
    list.map((item) => {
      const eq = item.lastIndexOf('=');
      if (eq <= 0 || eq === item.length - 1) throw new InvalidInputError(`"${item}" is not DIRECTORY-GROUP=otpgate-group`, '--group-map');
      return [item.slice(0, eq), item.slice(eq + 1)];
    }),
  );
}

function defined(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}

/** A yes/no setting as --x and --no-x: given, either one wins; not given, the stored value (or default) stays. */
const switchOption = (c: Command, flag: string, on: string, off: string) => c.option(flag, on).option(flag.replace(/^--/, '--no-'), off);

/**
 * The stored backend with the changes of set-ldap/set-entra. A user filter still at its default is left for the schema
 * to fill again, so it follows --active-directory / --no-active-directory.
 */
export function updated(current: BackendSettings, changes: Record<string, unknown>): Record<string, unknown> {
  const next: Record<string, unknown> = { ...current, ...changes };
  if (current.type === 'ldap' && !('user_filter' in changes) && current.user_filter === defaultUserFilter(current.active_directory)) delete next.user_filter;
  return next;
}

/** Where a backend checks passwords, in a few words, for `backend list`. */
export function describeBackend(b: BackendSettings): string {
  switch (b.type) {
    case 'local':
      return 'passwords stored by otpgate (argon2id)';
    case 'ldap':
      return `${b.servers.join(', ')}${b.start_tls ? ' (StartTLS)' : ''}${b.active_directory ? ', Active Directory' : ''}`;
    case 'entra':
      return `${b.authority}/${b.tenant}, app ${b.client_id}`;
  }
}

export function registerBackendCommands(program: Command, globals: () => GlobalOptions): void {
  const backend = program.command('backend').description('password backends: local, LDAP/AD, Entra ID');

  const ldapOptions = (c: Command) => {
    c.option('--server <url>', 'ldap://host[:port] or ldaps://host[:port]; repeat for failover, in order', collect)
      .option('--ca-file <pem>', 'CA certificates to trust for the directory\'s TLS')
      .option('--bind-dn <dn>', 'service account for search-then-bind')
      .option('--bind-password-stdin', 'read the service account password from standard input')
      .option('--base-dn <dn>', 'where users are searched')
      .option('--filter <filter>', 'user search filter, {user} is the escaped user name (default: per --active-directory)')
      .option('--bind-template <template>', 'bind directly as this DN or UPN ({user}) instead of searching')
      .option('--group-base-dn <dn>', 'search groups here (default: read memberOf)')
      .option('--group-filter <filter>', 'group search filter ({dn}, {user})')
      .option('--group-map <group=otpgate-group>', 'map a directory group (DN or CN) to an otpgate group; repeat', collect)
      .option('--connect-timeout-ms <n>', 'time to connect to a server (TCP and TLS) before trying the next', integer)
      .option('--timeout-ms <n>', 'per-operation timeout', integer)
      .option('--pool-size <n>', 'pooled service-account connections per server', integer);
    switchOption(c, '--start-tls', 'upgrade ldap:// with StartTLS', 'no StartTLS (the default)');
    switchOption(c, '--verify-certificate', 'check the server certificate and host name (the default)', 'do not check the server certificate (lab only)');
    switchOption(
      c,
      '--active-directory',
      `Active Directory account checks and error codes; default filter ${defaultUserFilter(true)}`,
      `a plain LDAP directory (the default); default filter ${defaultUserFilter(false)}`,
    );
    switchOption(c, '--nested-groups', 'AD: follow nested groups', 'only direct group memberships (the default)');
    return c;
  };

  const ldapInput = async (name: string, o: Record<string, unknown>) =>
    defined({
      type: 'ldap',
      name,
      servers: o.server,
      start_tls: o.startTls,
      ca_certificates: caFile(o.caFile as string | undefined),
      verify_certificate: o.verifyCertificate,
      bind_dn: o.bindDn,
      bind_password: o.bindPasswordStdin ? await readStdinLine('bind password') : undefined,
      user_base_dn: o.baseDn,
      user_filter: o.filter,
      bind_template: o.bindTemplate,
      active_directory: o.activeDirectory,
      group_base_dn: o.groupBaseDn,
      group_filter: o.groupFilter,
      nested_groups: o.nestedGroups,
      group_map: groupMap(o.groupMap as string[] | undefined),
      connect_timeout_ms: o.connectTimeoutMs,
      timeout_ms: o.timeoutMs,
      pool_size: o.poolSize,
    });

  const entraOptions = (c: Command) =>
    c
      .option('--tenant <id>', 'tenant id or domain')
      .option('--client-id <id>', 'application (client) id of an app registration that allows public client flows')
      .option('--client-secret-stdin', 'read a client secret (confidential apps only) from standard input')
      .option('--scope <scope>', 'default openid')
      .option('--upn-domain <domain>', 'user -> user@domain')
      .option('--authority <url>', 'default https://login.microsoftonline.com')
      .option('--accept-without-mfa', 'accept accounts without MFA (a token for the password alone); refused by default')
      .option('--ca-file <pem>', 'extra CA certificates to trust (TLS-inspecting proxies)')
      .option('--timeout-ms <n>', 'request timeout', integer);

  const entraInput = async (name: string, o: Record<string, unknown>) =>
    defined({
      type: 'entra',
      name,
      tenant: o.tenant,
      client_id: o.clientId,
      client_secret: o.clientSecretStdin ? await readStdinLine('client secret') : undefined,
      scope: o.scope,
      upn_domain: o.upnDomain,
      authority: o.authority,
      accept_without_mfa: o.acceptWithoutMfa,
      ca_certificates: caFile(o.caFile as string | undefined),
      timeout_ms: o.timeoutMs,
    });

  for (const [kind, options, input] of [
    ['ldap', ldapOptions, ldapInput],
    ['entra', entraOptions, entraInput],
  ] as const) {
    options(backend.command(`add-${kind} <name>`).description(`add a${kind === 'ldap' ? 'n LDAP/AD' : 'n Entra ID'} backend`)).action(
      async (name: string, o: Record<string, unknown>) => {
        const body = await input(name, o);
        await withAdmin(globals(), ({ services }) => {
          services.backends.save(body, CLI_ACTOR);
          console.log(`backend ${name} added; put it in a chain with: otpgate settings set auth.backends '["${name}"]'`);
        });
      },
    );
    options(backend.command(`set-${kind} <name>`).description(`change an ${kind === 'ldap' ? 'LDAP/AD' : 'Entra ID'} backend (options not given keep their value)`)).action(
      async (name: string, o: Record<string, unknown>) => {
        const changes = await input(name, o);
        await withAdmin(globals(), ({ services }) => {
          services.backends.save(updated(services.backends.get(name), changes), CLI_ACTOR, { replace: true });
          console.log(`backend ${name} updated`);
        });
      },
    );
  }

  backend
    .command('list')
    .description('list backends (secrets masked) and the default chain')
    .option('--json', 'machine-readable output')
    .action(async (o: { json?: boolean }) => {
      await withAdmin(globals(), ({ services }) => {
        const list = services.backends.list();
        if (o.json) return printJson(list);
        console.log(table(['BACKEND', 'TYPE', 'WHERE'], list.map((b) => [b.name, b.type, describeBackend(b)])));
        console.log(`default chain: ${services.settings.get().auth.backends.join(' -> ')}`);
      });
    });

  backend
    .command('remove <name>')
    .description('delete a backend no chain uses')
    .action(async (name: string) => {
      await withAdmin(globals(), ({ services }) => {
        services.backends.remove(name, CLI_ACTOR);
        console.log(`backend ${name} removed`);
      });
    });

  backend
    .command('test <name>')
    .description('connect with the stored settings and show what the server answered')
    .option('--user <name>', 'also look this user up')
    .option('--json', 'machine-readable output')
    .action(async (name: string, o: { user?: string; json?: boolean }) => {
      await withAdmin(globals(), async ({ services }) => {
        const report = await services.backends.test(name, o.user);
        if (o.json) printJson(report);
        else {
          console.log(table(['STEP', 'RESULT', 'DETAIL'], report.steps.map((s) => [s.step, s.ok ? 'ok' : 'FAILED', s.detail])));
          console.log(report.ok ? 'connection test passed' : 'connection test FAILED');
        }
        if (!report.ok) process.exitCode = 1;
      });
    });
}
