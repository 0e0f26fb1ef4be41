import type { Entry, SearchOptions } from 'ldapts';
import type { LdapBackendSettings } from '@otpgate/shared';
import { AD_ACCOUNT_ATTRIBUTES, adAccountState, parseFlags, nestedGroupFilter, type AdAccountState } from './ldap-ad.js';
import { LdapBackendError } from './ldap-errors.js';
import { groupFilter, userFilter } from './ldap-filter.js';
import { attributeValues, domainRoot, mapGroups } from './ldap-groups.js';

/** Runs one search on some connection (pooled service account, the user's own, a probe's) and returns the entries. */
export type Search = (base: string, options: SearchOptions) => Promise<Entry[]>;

export interface AccountState {
  state: AdAccountState;
  uac: number | null;
  computed: number | null;
}

/** The searches the backend makes, independent of which connection carries them. */
export class DirectoryQueries {
  constructor(private readonly s: LdapBackendSettings) {}

  get wantsGroups(): boolean {
    return Object.keys(this.s.group_map).length > 0;
  }

  /** Groups come from a group search (group_base_dn, or AD nested groups) rather than the user's group_attribute. */
  private get groupsBySearch(): boolean {
    return this.s.group_base_dn !== '' || (this.s.active_directory && this.s.nested_groups);
  }

  private get timeLimit(): number {
    return Math.ceil(this.s.timeout_ms / 1000);
  }

  /** Only what we use, so a user with thousands of attributes costs no more; `1.1` asks for none (RFC 4511). */
  userAttributes(): string[] {
    const attrs: string[] = [];
    if (this.wantsGroups && !this.groupsBySearch) attrs.push(this.s.group_attribute);
    if (this.s.active_directory) attrs.push(...AD_ACCOUNT_ATTRIBUTES);
    return attrs.length > 0 ? attrs : ['1.1'];
  }

  describeUserSearch(username: string): string {
    return `${userFilter(this.s.user_filter, username)} under "${this.s.user_base_dn}" (scope ${this.s.scope})`;
  }

  /** The user's entry, or null; more than one match is a directory problem, never a guess. */
  async findUser(search: Search, username: string): Promise<Entry | null> {
    const entries = await search(this.s.user_base_dn, {
      scope: this.s.scope,
      filter: userFilter(this.s.user_filter, username),
      attributes: this.userAttributes(),
      // two are enough to tell "one" from "more than one"
      sizeLimit: 2,
      timeLimit: this.timeLimit,
    });
    if (entries.length > 1) {
      throw new LdapBackendError(
        'ambiguous',
        `more than one entry matches ${this.describeUserSearch(username)} (${entries.map((e) => e.dn).join('; ')}): ` +
          'make user_filter match a unique attribute',
      );
    }
    return entries[0] ?? null;
  }

  /** The entry at `dn` itself (direct bind with a DN template). */
  async readEntry(search: Search, dn: string): Promise<Entry | null> {
    const entries = await search(dn, { scope: 'base', filter: '(objectClass=*)', attributes: this.userAttributes(), timeLimit: this.timeLimit });
    return entries[0] ?? null;
  }

  /**
   * AD account state. The computed attribute is constructed per entry; if a subtree search left it out, read the
   * entry itself (base scope), where AD always computes it.
   */
  async accountState(search: Search, entry: Entry): Promise<AccountState> {
    let uac = parseFlags(attributeValues(entry, 'userAccountControl')[0]);
    let computed = parseFlags(attributeValues(entry, 'msDS-User-Account-Control-Computed')[0]);
    if (computed === null) {
      const [self] = await search(entry.dn, {
        scope: 'base',
        filter: '(objectClass=*)',
        attributes: [...AD_ACCOUNT_ATTRIBUTES],
        timeLimit: this.timeLimit,
      });
      if (self) {
        uac ??= parseFlags(attributeValues(self, 'userAccountControl')[0]);
        computed = parseFlags(attributeValues(self, 'msDS-User-Account-Control-Computed')[0]);
      }
    }
    return { state: adAccountState(uac, computed), uac, computed };
  }

  /** The user's directory groups (DNs, or whatever group_attribute holds). */
  async directoryGroups(search: Search, entry: Entry, username: string): Promise<string[]> {
    if (!this.groupsBySearch) return attributeValues(entry, this.s.group_attribute);
    const nested = this.s.active_directory && this.s.nested_groups;
    const base = this.s.group_base_dn || (nested ? (domainRoot(entry.dn) ?? this.s.user_base_dn) : this.s.user_base_dn);
    const groups = await search(base, {
      scope: 'sub',
      filter: nested ? nestedGroupFilter(entry.dn) : groupFilter(this.s.group_filter, entry.dn, username),
      attributes: ['1.1'],
      timeLimit: this.timeLimit,
    });
    return groups.map((g) => g.dn);
  }

  /** otpgate groups for the user (group_map applied), or undefined when no group_map is configured. */
  async groups(search: Search, entry: Entry, username: string): Promise<{ directory: string[]; mapped: string[] } | undefined> {
    if (!this.wantsGroups) return undefined;
    const directory = await this.directoryGroups(search, entry, username);
    return { directory, mapped: mapGroups(directory, this.s.group_map) };
  }
}
