import type { Entry } from 'ldapts';
import { firstRdnValue, looksLikeDn, normalizeDn } from './ldap-filter.js';

/** An attribute's values from a search entry, found case-insensitively (servers echo their own spelling). */
export function attributeValues(entry: Entry, name: string): string[] {
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(entry)) {
    if (key.toLowerCase() !== wanted || key === 'dn') continue;
    const list = Array.isArray(value) ? value : [value];
    return list.map((v) => (Buffer.isBuffer(v) ? v.toString('utf8') : v));
  }
  return [];
}

/**
 * Maps directory groups to otpgate groups. `groupMap` keys are a group's DN or its CN, matched case-insensitively
 * (and DNs without regard to spaces around separators); directory groups not in the map are ignored.
 */
export function mapGroups(directoryGroups: readonly string[], groupMap: Readonly<Record<string, string>>): string[] {
  const byKey = new Map<string, string>();
  for (const [key, group] of Object.entries(groupMap)) {
    byKey.set(looksLikeDn(key) ? normalizeDn(key) : key.trim().toLowerCase(), group);
  }
  const out: string[] = [];
  const add = (g: string | undefined) => {
    if (g !== undefined && !out.includes(g)) out.push(g);
  };
  for (const dirGroup of directoryGroups) {
    if (looksLikeDn(dirGroup)) {
      add(byKey.get(normalizeDn(dirGroup)));
      add(byKey.get(firstRdnValue(dirGroup)?.toLowerCase() ?? ''));
    } else {
      add(byKey.get(dirGroup.trim().toLowerCase()));
    }
  }
  return out;
}

/** `CN=Bob,OU=Staff,DC=corp,DC=example` -> `DC=corp,DC=example`: an AD domain's root, where its groups live. */
export function domainRoot(dn: string): string | null {
  const m = /(?:^|,)\s*(dc=.*)$/i.exec(dn);
  return m?.[1] ?? null;
}
