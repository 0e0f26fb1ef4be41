import { FilterParser } from 'ldapts';
import { errorMessage } from '@otpgate/shared';

/**
 * Escapes a value for use inside an LDAP search filter (RFC 4515 §3): `*`, `(`, `)`, `\` and NUL become `\2a`, `\28`,
 * `\29`, `\5c`, `\00`. Without this a user named `*` would match every entry and `)(uid=*` would rewrite the filter.
 */
export function escapeFilterValue(value: string): string {
  return value.replace(/[*()\\\0]/g, (c) => `\\${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/**
 * Escapes a value for use as an attribute value in a DN (RFC 4514 §2.4): `,+"\<>;=` get a backslash, as do a leading
 * space or `#` and a trailing space; NUL becomes `\00`. A name like `bob,ou=admins` then stays one RDN value.
 */
export function escapeDnValue(value: string): string {
  const chars = [...value];
  return chars
    .map((c, i) => {
      if (c === '\0') return '\\00';
      if (',+"\\<>;='.includes(c)) return `\\${c}`;
      if ((i === 0 && (c === ' ' || c === '#')) || (i === chars.length - 1 && c === ' ')) return `\\${c}`;
      return c;
    })
    .join('');
}

/** `uid={user},ou=people,...` is a DN (attribute type then `=`); `{user}@example.com` and `EXAMPLE\{user}` are not. */
export function looksLikeDn(template: string): boolean {
  return /^\s*(?:[A-Za-z][A-Za-z0-9-]*|\d+(?:\.\d+)+)\s*=/.test(template);
}

/** Replaces each `{name}` with its value; values must already be escaped for where they go. */
export function fillTemplate(template: string, values: Record<string, string>): string {
  return template.replace(/\{(\w+)\}/g, (whole, key: string) => values[key] ?? whole);
}

/** The search filter for one user name: `{user}` replaced by the RFC 4515-escaped name. */
export function userFilter(template: string, username: string): string {
  return fillTemplate(template, { user: escapeFilterValue(username) });
}

/** The group search filter: `{dn}` is the user's DN, `{user}` the user name, both RFC 4515-escaped. */
export function groupFilter(template: string, userDn: string, username: string): string {
  return fillTemplate(template, { dn: escapeFilterValue(userDn), user: escapeFilterValue(username) });
}

/**
 * The name to bind as for a direct bind: a DN template gets the name DN-escaped (RFC 4514); a UPN (`{user}@corp`)
 * or down-level (`CORP\{user}`) template takes the name as it is, since those are not DNs and AD parses them itself.
 */
export function bindName(template: string, username: string): string {
  return fillTemplate(template, { user: looksLikeDn(template) ? escapeDnValue(username) : username });
}

/** Problems with a filter template, found before any request uses it (null when it parses). */
export function filterTemplateProblem(field: string, template: string, placeholders: readonly string[]): string | null {
  const sample = fillTemplate(template, Object.fromEntries(placeholders.map((p) => [p, 'x'])));
  const unknown = /\{(\w+)\}/.exec(sample);
  if (unknown) return `${field}: unknown placeholder ${unknown[0]} (allowed: ${placeholders.map((p) => `{${p}}`).join(', ')})`;
  try {
    FilterParser.parseString(sample);
    return null;
  } catch (err) {
    return `${field} is not a valid LDAP filter (RFC 4515): ${errorMessage(err)}`;
  }
}

/** A DN compared the way directories do for our purpose: case-insensitive, no spaces around `,` and `=`. */
export function normalizeDn(dn: string): string {
  return dn
    .trim()
    .replace(/\s*([,=+])\s*/g, '$1')
    .toLowerCase();
}

/** The value of a DN's first RDN (`CN=VPN Users,OU=Groups,...` -> `VPN Users`), unescaped; null if it has none. */
export function firstRdnValue(dn: string): string | null {
  const m = /^\s*[^=]+=((?:\\.|[^,+\\])*)/.exec(dn);
  if (!m?.[1]) return null;
  return m[1].replace(/\\([0-9a-fA-F]{2}|.)/g, (_, e: string) => (e.length === 2 ? String.fromCharCode(parseInt(e, 16)) : e)).trim();
}
