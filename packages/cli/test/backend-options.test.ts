import { describe, expect, it } from 'vitest';
import { type EntityChanges } from '@otpgate/core';
import { InvalidInputError, backendSchema, defaultUserFilter, type BackendSettings } from '@otpgate/shared';
import { describeBackend, groupMap, updated } from '../src/commands/backends.js';
import { entityLine } from '../src/commands/config-transfer.js';

const ldap = (over: Record<string, unknown> = {}): BackendSettings =>
  backendSchema.parse({ type: 'ldap', name: 'corp', servers: ['ldap://dc1.example.com'], ...over });

describe('--group-map DIRECTORY-GROUP=otpgate-group', () => {
  it('splits at the last "=", so a DN full of "=" maps as a whole', () => {
    expect(groupMap(['CN=VPN,OU=Groups,DC=example,DC=com=vpn', 'admins=ops'])).toEqual({
      'CN=VPN,OU=Groups,DC=example,DC=com': 'vpn',
      admins: 'ops',
    });
    expect(groupMap(undefined)).toBeUndefined();
  });

  it('refuses an item without a directory group or without an otpgate group, naming the option', () => {
    for (const bad of ['vpn', '=vpn', 'CN=VPN=']) {
      expect(() => groupMap([bad]), bad).toThrow(InvalidInputError);
      expect(() => groupMap([bad]), bad).toThrow(`"${bad}" is not DIRECTORY-GROUP=otpgate-group`);
    }
  });
});

describe('set-ldap: the stored backend with the changes given', () => {
  it('lets a user filter still at its default follow --active-directory', () => {
    const stored = ldap();
    expect(stored.type === 'ldap' && stored.user_filter).toBe(defaultUserFilter(false));
    const next = backendSchema.parse(updated(stored, { active_directory: true }));
    expect(next.type === 'ldap' && next.user_filter).toBe(defaultUserFilter(true));
  });

  it('keeps a user filter the admin wrote, and takes a new one when given', () => {
    const custom = ldap({ user_filter: '(uid={user})' });
    expect(updated(custom, { active_directory: true }).user_filter).toBe('(uid={user})');
    expect(updated(ldap(), { user_filter: '(cn={user})' }).user_filter).toBe('(cn={user})');
  });
});

describe('backend list: where each backend checks passwords', () => {
  it('names the servers, StartTLS and Active Directory for LDAP, the tenant and app for Entra ID', () => {
    expect(describeBackend(backendSchema.parse({ type: 'local', name: 'local' }))).toBe('passwords stored by otpgate (argon2id)');
    expect(describeBackend(ldap({ servers: ['ldap://a', 'ldap://b'], start_tls: true, active_directory: true }))).toBe(
      'ldap://a, ldap://b (StartTLS), Active Directory',
    );
    expect(describeBackend(backendSchema.parse({ type: 'entra', name: 'cloud', tenant: 'example.com', client_id: 'app-1' }))).toBe(
      'https://login.microsoftonline.com/example.com, app app-1',
    );
  });
});

describe('config import preview lines', () => {
  const changes = (n: number): EntityChanges => ({
    new: Array.from({ length: n }, (_, i) => `u${i}`),
    changed: ['carol'],
    unchanged: ['dave', 'erin'],
    removed: [],
  });

  it('counts each kind of change and names the first ten', () => {
    expect(entityLine('users', changes(2))).toBe('users: 2 new (u0, u1), 1 changed (carol), 2 unchanged, 0 removed');
    expect(entityLine('users', changes(12))).toBe(
      'users: 12 new (u0, u1, u2, u3, u4, u5, u6, u7, u8, u9, … 2 more), 1 changed (carol), 2 unchanged, 0 removed',
    );
  });

  it('says when the document leaves an entity out', () => {
    expect(entityLine('tokens', undefined)).toBe('tokens: not in the document (left as they are)');
  });
});
