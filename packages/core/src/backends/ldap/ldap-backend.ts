import type { Entry } from 'ldapts';
import type { LdapBackendSettings, RejectReason } from '@otpgate/shared';
import type { Logger } from '../../logger.js';
import type { ConnectionReport, PasswordResult, PasswordSubject, TestableBackend, UserLookup } from '../backend.js';
import { describeAdState, mapAdBindFailure } from './ldap-ad.js';
import { LdapConnection, parseServerUrl, type ConnectionOptions, type ServerAddress } from './ldap-connection.js';
import { DirectoryQueries, type Search } from './ldap-directory.js';
import { LdapBackendError, classifyLdapError, describeResult, ldapResultOf, type LdapResult } from './ldap-errors.js';
import { bindName, filterTemplateProblem, looksLikeDn } from './ldap-filter.js';
import { ConnectionPool } from './ldap-pool.js';
import { probeLdap } from './ldap-probe.js';

/** How long a server that failed (unreachable, timed out, TLS) is skipped, so requests do not each wait for it. */
export const LDAP_SERVER_DOWN_MS = 30_000;
/** Searches pipelined on one service connection (slapd and AD run them concurrently). */
const SEARCHES_PER_CONNECTION = 32;

export interface LdapBackendOptions {
  /** Overrides LDAP_SERVER_DOWN_MS (tests). */
  downForMs?: number;
  now?: () => number;
}

/** One directory server: its health and its two pools (service-account searches, user binds). */
class LdapServer {
  downUntil = 0;
  readonly service: ConnectionPool<LdapConnection>;
  readonly binder: ConnectionPool<LdapConnection>;

  constructor(
    readonly address: ServerAddress,
    s: LdapBackendSettings,
  ) {
    const common = {
      max: s.pool_size,
      // long enough for a new connection to be opened and bound, so a queued request sees that attempt's outcome
      acquireTimeoutMs: s.connect_timeout_ms + s.timeout_ms,
      alive: (c: LdapConnection) => c.alive,
      destroy: (c: LdapConnection) => c.close(),
    };
    this.service = new ConnectionPool({
      ...common,
      label: `${address.url} service connections`,
      share: SEARCHES_PER_CONNECTION,
      create: () => openServiceConnection(address, s),
      // a search joins one already waiting to be written in this event-loop turn: one write carries both
      preferred: (c: LdapConnection) => c.writesPending,
    });
    // user binds change the connection's identity, so these connections are used for binds only, one at a time
    this.binder = new ConnectionPool({
      ...common,
      label: `${address.url} user-bind connections`,
      share: 1,
      create: () => openConnection(address, s),
    });
  }

  async close(): Promise<void> {
    await Promise.all([this.service.close(), this.binder.close()]);
  }
}

async function openConnection(address: ServerAddress, s: LdapBackendSettings, options: ConnectionOptions = {}): Promise<LdapConnection> {
  try {
    return await LdapConnection.open(address, s, options);
  } catch (err) {
    throw classifyLdapError(err, address.url, s.start_tls && !address.secure ? 'connect and StartTLS' : 'connect');
  }
}

/** A connection bound as the service account (or anonymous when bind_dn is empty). */
async function openServiceConnection(address: ServerAddress, s: LdapBackendSettings): Promise<LdapConnection> {
  // searches are pipelined on these: the requests of one event-loop turn go out in one write
  const conn = await openConnection(address, s, { coalesceWrites: true });
  if (s.bind_dn === '') return conn;
  try {
    await conn.client.bind(s.bind_dn, s.bind_password);
    return conn;
  } catch (err) {
    await conn.close();
    const result = ldapResultOf(err);
    if (result?.code === 49) {
      throw new LdapBackendError(
        'service-bind',
        `service account bind as "${s.bind_dn}" refused: ${describeResult(result)} — check bind_dn and bind_password`,
        address.url,
      );
    }
    throw classifyLdapError(err, address.url, `service account bind as "${s.bind_dn}"`);
  }
}

/** Binds, answering the server's refusal as a value (a verdict on the password) and throwing anything else. */
async function tryBind(conn: LdapConnection, dn: string, password: string): Promise<LdapResult | null> {
  try {
    await conn.client.bind(dn, password);
    return null;
  } catch (err) {
    const result = ldapResultOf(err);
    if (result) return result;
    throw err;
  }
}

function searchOn(conn: LdapConnection): Search {
  return async (base, options) => (await conn.client.search(base, options)).searchEntries;
}

/**
 * Passwords checked against LDAP, LDAPS or Active Directory: search-then-bind (service account, RFC 4515-escaped
 * filter) or a direct bind with bind_template; groups from memberOf or a group search; AD account state and bind
 * sub-codes mapped to reject reasons; servers tried in order with failover; pooled connections.
 */
export class LdapPasswordBackend implements TestableBackend, UserLookup {
  readonly name: string;
  private readonly servers: LdapServer[];
  private readonly queries: DirectoryQueries;
  private readonly configProblem: string | null;
  private readonly downForMs: number;
  private readonly now: () => number;
  private closed = false;

  constructor(
    private readonly settings: LdapBackendSettings,
    private readonly logger: Logger,
    options: LdapBackendOptions = {},
  ) {
    this.name = settings.name;
    this.downForMs = options.downForMs ?? LDAP_SERVER_DOWN_MS;
    this.now = options.now ?? Date.now;
    this.servers = settings.servers.map((url) => new LdapServer(parseServerUrl(url), settings));
    this.queries = new DirectoryQueries(settings);
    this.configProblem =
      filterTemplateProblem('user_filter', settings.user_filter, ['user']) ??
      (settings.group_base_dn ? filterTemplateProblem('group_filter', settings.group_filter, ['dn', 'user']) : null) ??
      (settings.bind_template && !settings.bind_template.includes('{user}') ? 'bind_template must contain {user}' : null);
  }

  async verify(subject: PasswordSubject, password: string): Promise<PasswordResult> {
    if (password === '') {
      return this.reject(
        'bad-password',
        'empty password refused without asking the directory: an empty password makes an unauthenticated bind, ' +
          'which most servers accept (RFC 4513 §5.1.2)',
      );
    }
    if (subject.username === '') return this.reject('unknown-user', 'empty user name');
    return this.onServers(subject.username, 'check password', (server) => this.verifyOn(server, subject.username, password));
  }

  /** The user's account state and groups, read with the service account: no bind, so no password attempt is counted. */
  async lookup(username: string): Promise<PasswordResult> {
    if (username === '') return this.reject('unknown-user', 'empty user name');
    return this.onServers(username, 'look up user', (server) => this.lookupOn(server, username));
  }

  /** Asks the servers in order until one answers; a server that fails is skipped for a while. */
  private async onServers(username: string, what: string, ask: (server: LdapServer) => Promise<PasswordResult>): Promise<PasswordResult> {
    if (this.closed) return this.error('the LDAP backend is closed');
    if (this.configProblem) return this.error(`settings: ${this.configProblem}`);

    const failures: string[] = [];
    for (const server of this.orderedServers()) {
      try {
        const result = await ask(server);
        server.downUntil = 0;
        this.logger.debug({ backend: this.name, server: server.address.url, user: username, outcome: result.outcome }, 'ldap server answered');
        return result;
      } catch (err) {
        const e = classifyLdapError(err, server.address.url, what);
        if (!e.failover) {
          this.logger.warn({ backend: this.name, server: server.address.url, user: username, error: e.message }, 'ldap error');
          return this.error(e.message);
        }
        this.markDown(server, e);
        failures.push(e.message);
      }
    }
    return this.error(`no LDAP server answered (${failures.join('; ')})`);
  }

  testConnection(username?: string): Promise<ConnectionReport> {
    return probeLdap(this.settings, this.queries, this.configProblem, username);
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.servers.map((s) => s.close()));
  }

  /** Servers in the configured order, those marked down last: still tried when nothing else answers. */
  private orderedServers(): LdapServer[] {
    const now = this.now();
    return [...this.servers.filter((s) => s.downUntil <= now), ...this.servers.filter((s) => s.downUntil > now)];
  }

  private markDown(server: LdapServer, err: LdapBackendError): void {
    const now = this.now();
    const wasUp = server.downUntil <= now;
    server.downUntil = now + this.downForMs;
    // many requests in flight fail together: one log line per outage is enough
    if (!wasUp) return;
    this.logger.warn(
      { backend: this.name, server: server.address.url, error: err.message, skipForMs: this.downForMs },
      'ldap server failed; trying the next one',
    );
    // queued requests fail over now; idle connections to a failing server are likely dead
    void server.service.drain(err);
    void server.binder.drain(err);
  }

  private async verifyOn(server: LdapServer, username: string, password: string): Promise<PasswordResult> {
    if (this.settings.bind_template) return this.directBind(server, username, password);

    const search = this.serviceSearch(server);
    const entry = await this.queries.findUser(search, username);
    if (!entry) return this.reject('unknown-user', `no entry matches ${this.queries.describeUserSearch(username)}`);

    let passwordExpired: string | null = null;
    if (this.settings.active_directory) {
      const { state, uac, computed } = await this.queries.accountState(search, entry);
      // refused before binding: a bind would only add to the bad-password count of a locked or disabled account
      if (state === 'disabled' || state === 'locked') return this.reject(state, `${entry.dn}: ${describeAdState(uac, computed)}`);
      // told only once the bind has proven the password, so account state does not leak to a guesser
      if (state === 'password-expired') passwordExpired = `${entry.dn}: ${describeAdState(uac, computed)}`;
    }

    const refused = await this.withConnection(server, server.binder, `bind as "${entry.dn}"`, (c) => tryBind(c, entry.dn, password));
    if (refused) return this.bindRefused(refused, entry.dn);
    if (passwordExpired) return this.reject('password-expired', passwordExpired);
    return this.accept(entry, search, username);
  }

  private async lookupOn(server: LdapServer, username: string): Promise<PasswordResult> {
    const search = this.serviceSearch(server);
    const template = this.settings.bind_template;
    const entry = template && looksLikeDn(template) ? await this.queries.readEntry(search, bindName(template, username)) : await this.queries.findUser(search, username);
    if (!entry) return this.reject('unknown-user', `no entry matches ${this.queries.describeUserSearch(username)}`);
    if (this.settings.active_directory) {
      const { state, uac, computed } = await this.queries.accountState(search, entry);
      if (state !== 'ok') return this.reject(state, `${entry.dn}: ${describeAdState(uac, computed)}`);
    }
    return this.accept(entry, search, username);
  }

  /** bind_template: bind as the name built from the template; read the entry afterwards only if groups/AD need it. */
  private directBind(server: LdapServer, username: string, password: string): Promise<PasswordResult> {
    const template = this.settings.bind_template;
    const name = bindName(template, username);
    return this.withConnection(server, server.binder, `bind as "${name}"`, async (conn) => {
      const refused = await tryBind(conn, name, password);
      if (refused) return this.bindRefused(refused, name);
      if (!this.queries.wantsGroups && !this.settings.active_directory) return this.result({ outcome: 'accept' });
      // the user's own connection can read its entry; the service account is used when there is one
      const search = this.settings.bind_dn ? this.serviceSearch(server) : searchOn(conn);
      const entry = looksLikeDn(template) ? await this.queries.readEntry(search, name) : await this.queries.findUser(search, username);
      if (!entry) {
        this.logger.debug({ backend: this.name, user: username }, 'ldap: bound, but the entry is not readable; no groups');
        return this.result({ outcome: 'accept', groups: this.queries.wantsGroups ? [] : undefined });
      }
      if (this.settings.active_directory) {
        const { state, uac, computed } = await this.queries.accountState(search, entry);
        if (state !== 'ok') return this.reject(state, `${entry.dn}: ${describeAdState(uac, computed)}`);
      }
      return this.accept(entry, search, username);
    });
  }

  private async accept(entry: Entry, search: Search, username: string): Promise<PasswordResult> {
    const groups = await this.queries.groups(search, entry, username);
    return this.result({ outcome: 'accept', groups: groups?.mapped });
  }

  /** A bind the server refused: result 49 is a verdict on the password (AD: on the account); others are errors. */
  private bindRefused(r: LdapResult, who: string): PasswordResult {
    if (r.code !== 49) {
      throw new LdapBackendError('directory', `bind as "${who}" failed: ${describeResult(r)}`);
    }
    if (this.settings.active_directory) {
      const { reason, detail } = mapAdBindFailure(r.diagnostic);
      return this.reject(reason, `${who}: ${detail}`);
    }
    return this.reject('bad-password', `the directory refused the password for "${who}": ${describeResult(r)}`);
  }

  private serviceSearch(server: LdapServer): Search {
    return (base, options) =>
      this.withConnection(server, server.service, `search under "${base}"`, async (c) => (await c.client.search(base, options)).searchEntries);
  }

  /**
   * Runs `fn` on a pooled connection. A transport failure closes that connection; if it had been idle in the pool it
   * may just have gone stale (server idle timeout), so one fresh attempt follows before the error counts.
   */
  private async withConnection<T>(
    server: LdapServer,
    pool: ConnectionPool<LdapConnection>,
    what: string,
    fn: (conn: LdapConnection) => Promise<T>,
  ): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      let lease;
      try {
        lease = await pool.acquire();
      } catch (err) {
        throw classifyLdapError(err, server.address.url, what);
      }
      try {
        const value = await fn(lease.conn);
        pool.release(lease, true);
        return value;
      } catch (err) {
        const e = classifyLdapError(err, server.address.url, what);
        pool.release(lease, !e.failover);
        if (e.kind === 'closed' && lease.reused && attempt === 0) continue;
        throw e;
      }
    }
  }

  private result(r: { outcome: 'accept'; groups?: string[] }): PasswordResult {
    return r.groups ? { outcome: 'accept', backend: this.name, groups: r.groups } : { outcome: 'accept', backend: this.name };
  }

  private reject(reason: RejectReason, detail: string): PasswordResult {
    return { outcome: 'reject', backend: this.name, reason, detail };
  }

  private error(detail: string): PasswordResult {
    return { outcome: 'error', backend: this.name, detail };
  }
}
