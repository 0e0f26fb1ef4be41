import { describe, expect, it } from 'vitest';
import { FilterParser } from 'ldapts';
import { bindName, escapeDnValue, escapeFilterValue, groupFilter, looksLikeDn, userFilter } from '../src/backends/ldap/ldap-filter.js';
import { mapGroups } from '../src/backends/ldap/ldap-groups.js';

describe('RFC 4515 filter escaping', () => {
  it('escapes *, (, ), \\ and NUL and nothing else', () => {
    expect(escapeFilterValue('*')).toBe('\\2a');
    expect(escapeFilterValue(')(uid=*')).toBe('\\29\\28uid=\\2a');
    expect(escapeFilterValue('a\\b\0c')).toBe('a\\5cb\\00c');
    expect(escapeFilterValue('José O\'Brien-2')).toBe('José O\'Brien-2');
  });

  it('a user filter with an injected name still parses as one equality match on the literal name', () => {
    for (const name of ['*', ')(uid=*', '*)(|(uid=*', 'a\\b', 'x)(objectClass=*']) {
      const f = userFilter('(&(objectClass=inetOrgPerson)(uid={user}))', name);
      const parsed = FilterParser.parseString(f) as unknown as { filters: Array<{ attribute?: string; value?: string }> };
      expect(parsed.filters).toHaveLength(2);
      expect(parsed.filters[1]).toMatchObject({ attribute: 'uid', value: name });
    }
  });

  it('group filter: {dn} and {user} both escaped', () => {
    expect(groupFilter('(|(member={dn})(memberUid={user}))', 'uid=a*b,ou=people', 'a*b')).toBe('(|(member=uid=a\\2ab,ou=people)(memberUid=a\\2ab))');
  });
});

describe('RFC 4514 DN escaping and bind templates', () => {
  it('escapes the DN specials, a leading space or #, a trailing space, NUL', () => {
    expect(escapeDnValue('comma,user')).toBe('comma\\,user');
    expect(escapeDnValue('a+b="c"<d>;e\\')).toBe('a\\+b\\=\\"c\\"\\<d\\>\\;e\\\\');
    expect(escapeDnValue('#x ')).toBe('\\#x\\ ');
    expect(escapeDnValue(' x')).toBe('\\ x');
    expect(escapeDnValue('a\0b')).toBe('a\\00b');
    expect(escapeDnValue('plain.name')).toBe('plain.name');
  });

  it('DN templates get the name DN-escaped; UPN and down-level templates take it as it is', () => {
    expect(looksLikeDn('uid={user},ou=people,dc=example,dc=com')).toBe(true);
    expect(looksLikeDn('CN={user},OU=Staff,DC=corp')).toBe(true);
    expect(looksLikeDn('{user}@corp.example.com')).toBe(false);
    expect(looksLikeDn('CORP\\{user}')).toBe(false);
    expect(bindName('uid={user},ou=people,dc=example,dc=com', 'bob,ou=admins')).toBe('uid=bob\\,ou\\=admins,ou=people,dc=example,dc=com');
    expect(bindName('{user}@corp.example.com', 'bob')).toBe('bob@corp.example.com');
    expect(bindName('CORP\\{user}', 'bob')).toBe('CORP\\bob');
  });
});

describe('group_map', () => {
  const map = { 'CN=VPN Users,OU=Groups,DC=corp,DC=example': 'vpn', admins: 'admin', 'cn=Sales, ou=Groups, dc=corp, dc=example': 'sales' };

  it('matches a directory group by DN (any case, spaces around separators ignored) or by CN', () => {
    expect(
      mapGroups(['cn=vpn users,ou=groups,dc=corp,dc=example', 'CN=Admins,OU=Other,DC=corp,DC=example', 'CN=Sales,OU=Groups,DC=corp,DC=example'], map),
    ).toEqual(['vpn', 'admin', 'sales']);
  });

  it('ignores unmapped groups and returns each otpgate group once', () => {
    expect(mapGroups(['CN=Other,DC=corp', 'cn=admins,ou=a', 'cn=admins,ou=b'], map)).toEqual(['admin']);
    expect(mapGroups([], map)).toEqual([]);
  });

  it('plain names (posixGroup memberUid style attributes) match by name', () => {
    expect(mapGroups(['ADMINS'], map)).toEqual(['admin']);
  });

  it('a CN with escaped characters is unescaped before matching', () => {
    expect(mapGroups(['CN=R\\+D,OU=Groups,DC=corp'], { 'r+d': 'rnd' })).toEqual(['rnd']);
  });
});
