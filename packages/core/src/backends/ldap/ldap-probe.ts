import type { LdapBackendSettings } from '@otpgate/shared';
import type { ConnectionReport } from '../backend.js';
import { describeAdState } from './ldap-ad.js';
import { LdapConnection, parseServerUrl } from './ldap-connection.js';
import type { DirectoryQueries, Search } from './ldap-directory.js';
import { classifyLdapError, ldapResultOf, describeResult } from './ldap-errors.js';
import { bindName, looksLikeDn } from './ldap-filter.js';
import { attributeValues } from './ldap-groups.js';
import { errorMessage } from '@otpgate/shared';

type Step = ConnectionReport['steps'][number];

/** What the server said, verbatim where it said something (result code and diagnostic message). */
function said(err: unknown, url: string, what: string): string {
  const r = ldapResultOf(err);
  return r ? `${what}: the server answered ${describeResult(r)}` : classifyLdapError(err, url, what).message;
}

/** The root DSE (readable without a bind on slapd and AD): who is answering. */
async function rootDseSummary(conn: LdapConnection): Promise<string> {
  try {
    const {
      searchEntries: [root],
    } = await conn.client.search('', {
      scope: 'base',
      filter: '(objectClass=*)',
      attributes: ['vendorName', 'vendorVersion', 'supportedLDAPVersion', 'dnsHostName', 'defaultNamingContext'],
    });
    if (!root) return 'root DSE empty';
    const parts = ['vendorName', 'vendorVersion', 'dnsHostName', 'defaultNamingContext', 'supportedLDAPVersion']
      .map((a) => [a, attributeValues(root, a).join(',')] as const)
      .filter(([, v]) => v !== '')
      .map(([a, v]) => `${a}=${v}`);
    return parts.length > 0 ? `root DSE: ${parts.join(', ')}` : 'root DSE readable';
  } catch (err) {
    const r = ldapResultOf(err);
    return `root DSE not readable (${r ? describeResult(r) : errorMessage(err)})`;
  }
}

/**
 * "Test connection": each server on a fresh connection (not the pool, so the report shows what happens now), the
 * service bind, and optionally the lookup of one user with the DN, account state and groups the backend would use.
 */
export async function probeLdap(
  s: LdapBackendSettings,
  queries: DirectoryQueries,
  configProblem: string | null,
  username?: string,
): Promise<ConnectionReport> {
  const steps: Step[] = [];
  const step = (name: string, ok: boolean, detail: string) => steps.push({ step: name, ok, detail });
  if (configProblem) {
    step('settings', false, configProblem);
    return { ok: false, steps };
  }
  const opened: LdapConnection[] = [];
  let searchVia: { conn: LdapConnection; url: string } | null = null;
  try {
    for (const url of s.servers) {
      const address = parseServerUrl(url);
      const started = performance.now();
      let conn: LdapConnection;
      try {
        conn = await LdapConnection.open(address, s);
        opened.push(conn);
      } catch (err) {
        step(`connect ${address.url}`, false, said(err, address.url, 'connect'));
        continue;
      }
      const ms = Math.round(performance.now() - started);
      step(`connect ${address.url}`, true, `connected in ${ms} ms; ${conn.describeTransport()}; ${await rootDseSummary(conn)}`);
      if (s.bind_dn === '') {
        step(`bind ${address.url}`, true, 'no bind_dn: searches run anonymously');
      } else {
        try {
          await conn.client.bind(s.bind_dn, s.bind_password);
          step(`bind ${address.url}`, true, `service account "${s.bind_dn}" bound`);
        } catch (err) {
          step(`bind ${address.url}`, false, `${said(err, address.url, `bind as "${s.bind_dn}"`)} — check bind_dn and bind_password`);
          continue;
        }
      }
      searchVia ??= { conn, url: address.url };
    }
    if (username) {
      if (searchVia) await probeUser(s, queries, searchVia.conn, searchVia.url, username, step);
      else step(`look up "${username}"`, false, 'no server could be used for the lookup (see above)');
    }
  } finally {
    await Promise.all(opened.map((c) => c.close()));
  }
  return { ok: steps.every((x) => x.ok), steps };
}

async function probeUser(
  s: LdapBackendSettings,
  queries: DirectoryQueries,
  conn: LdapConnection,
  url: string,
  username: string,
  step: (name: string, ok: boolean, detail: string) => void,
): Promise<void> {
  const search: Search = async (base, options) => (await conn.client.search(base, options)).searchEntries;
  const lookup = `look up "${username}"`;
  let entry;
  try {
    if (s.bind_template) {
      const name = bindName(s.bind_template, username);
      step('bind name', true, `"${username}" binds directly as "${name}"`);
      entry = looksLikeDn(s.bind_template) ? await queries.readEntry(search, name) : await queries.findUser(search, username);
    } else {
      entry = await queries.findUser(search, username);
    }
  } catch (err) {
    step(lookup, false, said(err, url, `search ${queries.describeUserSearch(username)}`));
    return;
  }
  if (!entry) {
    step(lookup, false, `no entry matches ${queries.describeUserSearch(username)} on ${url}`);
    return;
  }
  step(lookup, true, `found "${entry.dn}" on ${url}`);
  try {
    if (s.active_directory) {
      const { state, uac, computed } = await queries.accountState(search, entry);
      step('account state', state === 'ok', describeAdState(uac, computed));
    }
    const groups = await queries.groups(search, entry, username);
    if (groups) {
      step(
        'groups',
        true,
        `directory groups: ${groups.directory.length > 0 ? groups.directory.join('; ') : '(none)'}; ` +
          `otpgate groups via group_map: ${groups.mapped.length > 0 ? groups.mapped.join(', ') : '(none)'}`,
      );
    }
  } catch (err) {
    step('groups', false, said(err, url, 'read groups'));
  }
}
