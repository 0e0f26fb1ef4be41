import type { RealmSettings } from '@otpgate/shared';

export interface ResolvedName {
  /** The name to look the user up by and give to the backends. */
  username: string;
  realm: RealmSettings | undefined;
}

/**
 * user@realm and DOMAIN\user as NAS send them. A known realm (by name or alias, any case) is stripped when it says
 * so and routes to its backend chain; an unknown one leaves the name as it is.
 */
export function resolveName(raw: string, realms: readonly RealmSettings[]): ResolvedName {
  let user = raw;
  let realmName: string | undefined;
  const backslash = raw.indexOf('\\');
  const at = raw.lastIndexOf('@');
  if (backslash > 0) {
    realmName = raw.slice(0, backslash);
    user = raw.slice(backslash + 1);
  } else if (at > 0) {
    realmName = raw.slice(at + 1);
    user = raw.slice(0, at);
  }
  if (realmName === undefined || user === '') return { username: raw, realm: undefined };
  const wanted = realmName.toLowerCase();
  const realm = realms.find((r) => r.name.toLowerCase() === wanted || r.aliases.some((a) => a.toLowerCase() === wanted));
  if (!realm) return { username: raw, realm: undefined };
  return { username: realm.strip ? user : raw, realm };
}
