/**
 * What the portal reads from a verified ID token (openid-client has checked its signature, iss, aud, exp and nonce):
 * the identity's stable id, the otpgate user name its match claim gives, and whether it may sign in at all (the
 * provider's group restriction).
 *
 * Entra ID: the stable id is tid + oid (`sub` differs per application, names change). A user in more than 200 groups
 * gets no `groups` list but an overage pointer (`_claim_names.groups`): following it needs Graph, which otpgate does
 * not call, so such a user is refused unless the group is one of their app roles (`roles`), which never overflow.
 */
import type { OidcProviderConfig } from '@otpgate/shared';

export type IdTokenClaims = Readonly<Record<string, unknown>>;

/** Longest name taken from a claim: an otpgate user name is at most 253 characters. */
const NAME_MAX = 253;

export type ClaimReading =
  | {
      ok: true;
      /** Entra: "tid/oid"; else "sub:" + sub. */
      subject: string;
      /** The otpgate user name the match claim gives; absent when the claim is missing or unusable (see nameProblem). */
      name?: string;
      nameProblem?: string;
    }
  | { ok: false; reason: string; name?: string };

const text = (value: unknown): string | undefined => (typeof value === 'string' && value.length > 0 ? value : undefined);

/** The identity's stable id at the provider. */
export function identitySubject(claims: IdTokenClaims): string | undefined {
  const tid = text(claims.tid);
  const oid = text(claims.oid);
  if (tid && oid) return `${tid}/${oid}`;
  const sub = text(claims.sub);
  return sub ? `sub:${sub}` : undefined;
}

/** The user name the configured claim gives, or why there is none. */
export function matchedName(claims: IdTokenClaims, provider: Pick<OidcProviderConfig, 'match_claim'>): { name: string } | { problem: string } {
  const value = claims[provider.match_claim];
  if (value === undefined) return { problem: `the token has no ${provider.match_claim} claim` };
  const name = text(value);
  if (!name || name.length > NAME_MAX || /[\s\0]/.test(name)) return { problem: `the ${provider.match_claim} claim is not a usable user name` };
  // an address the provider itself says it has not verified names no one (Entra sends no email_verified: match by
  // upn or preferred_username there)
  if (provider.match_claim === 'email' && claims.email_verified === false) return { problem: 'the email address is not verified by the provider' };
  return { name };
}

const list = (value: unknown): string[] => (Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : []);

/** Why the identity may not sign in for the provider's group restriction, or undefined when it may. */
export function groupRefusal(claims: IdTokenClaims, provider: Pick<OidcProviderConfig, 'group' | 'groups_claim'>): string | undefined {
  const { group } = provider;
  if (group === undefined) return undefined;
  const wanted = group.toLowerCase();
  const member = (values: string[]) => values.some((v) => v.toLowerCase() === wanted);
  if (member(list(claims.roles)) || member(list(claims[provider.groups_claim]))) return undefined;
  const overage = claims._claim_names;
  if (overage !== null && typeof overage === 'object' && provider.groups_claim in overage) {
    return `the user is in too many groups for the token to list them (Entra group overage): assign the app role "${group}" instead`;
  }
  return `not in the group "${group}"`;
}

/** All of the above: the identity, its name, or why it may not sign in. */
export function readClaims(claims: IdTokenClaims, provider: OidcProviderConfig): ClaimReading {
  const matched = matchedName(claims, provider);
  const name = 'name' in matched ? matched.name : undefined;
  const subject = identitySubject(claims);
  if (!subject) return { ok: false, reason: 'the token names no subject', name };
  const refusal = groupRefusal(claims, provider);
  if (refusal) return { ok: false, reason: refusal, name };
  return 'name' in matched ? { ok: true, subject, name } : { ok: true, subject, nameProblem: matched.problem };
}
