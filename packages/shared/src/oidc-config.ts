/**
 * The user portal's OpenID Connect providers (portal.oidc): Entra ID, Keycloak, Okta... Each signs users in to
 * /account with the authorization code flow (PKCE), and its users are matched to otpgate users by one claim.
 *
 * The issuer must be https: a plain-http issuer would let anyone on the path hand out sign-ins. A test or lab provider
 * with a self-signed certificate is reached through `ca_file`, never by switching the check off.
 */
import { z } from 'zod';

/** The claims a provider's user can be matched to an otpgate user name by. */
export const OIDC_MATCH_CLAIMS = ['preferred_username', 'upn', 'email'] as const;
export type OidcMatchClaim = (typeof OIDC_MATCH_CLAIMS)[number];

/** Entra ID's multi-tenant endpoints publish an issuer with a `{tenantid}` placeholder: no token ever matches it. */
const ENTRA_SHARED_TENANTS = /^\/(common|organizations|consumers)(\/|$)/i;

/** A claim name as it appears in an ID token. */
const claimName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_:.-]{0,63}$/, 'a claim name: letters, digits, "_", ":", ".", "-", at most 64');

export const oidcProviderSchema = z
  .strictObject({
    /** In the redirect URI (/account/oidc/NAME/callback), the audit and the auth log (oidc:NAME). */
    name: z.string().regex(/^[a-z0-9][a-z0-9-]{0,23}$/, 'lower-case letters, digits and "-", at most 24'),
    /** The button's text: "Sign in with LABEL". Default: the name. */
    label: z.string().min(1).max(60).optional(),
    /** Exactly as the provider's discovery document says (Entra: https://login.microsoftonline.com/TENANT-ID/v2.0). */
    issuer: z.url({ protocol: /^https$/, error: 'an https:// URL (a plain-http issuer is never accepted)' }).max(512),
    client_id: z.string().min(1).max(256),
    /** The client secret; or client_secret_file, a file holding it (relative to the config file's folder). */
    client_secret: z.string().min(1).max(1024).optional(),
    client_secret_file: z.string().min(1).optional(),
    /** Scopes asked for; openid is always among them. */
    scopes: z.array(z.string().regex(/^[\x21\x23-\x5b\x5d-\x7e]{1,64}$/, 'a scope: printable ASCII, no spaces or quotes')).max(20).default(['openid', 'profile', 'email']),
    /** The claim that must equal the otpgate user name (case-insensitive). */
    match_claim: z.enum(OIDC_MATCH_CLAIMS).default('preferred_username'),
    /** Only members of this group (in groups_claim, or as an app role in `roles`) may sign in. */
    group: z.string().min(1).max(256).optional(),
    groups_claim: claimName.default('groups'),
    /**
     * The provider is trusted to have asked for a second factor: an SSO session may then register passkeys. Off by
     * default (the provider's sign-in counts as one factor).
     */
    mfa: z.boolean().default(false),
    /** PEM CA certificates the provider's certificate must chain to; default: the system's. */
    ca_file: z.string().min(1).optional(),
  })
  .superRefine((p, ctx) => {
    if ((p.client_secret === undefined) === (p.client_secret_file === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['client_secret'], message: 'give client_secret or client_secret_file (one of them)' });
    }
    if (!p.scopes.includes('openid')) ctx.addIssue({ code: 'custom', path: ['scopes'], message: 'must include openid' });
    const url = new URL(p.issuer);
    if (url.search || url.hash || p.issuer.endsWith('/')) {
      ctx.addIssue({ code: 'custom', path: ['issuer'], message: 'exactly the issuer of the discovery document: no trailing "/", query or fragment' });
    }
    if (url.hostname.toLowerCase() === 'login.microsoftonline.com' && ENTRA_SHARED_TENANTS.test(url.pathname)) {
      ctx.addIssue({ code: 'custom', path: ['issuer'], message: 'use the tenant-specific issuer (https://login.microsoftonline.com/TENANT-ID/v2.0), not common/organizations/consumers' });
    }
  })
  .transform((p) => ({ ...p, label: p.label ?? p.name }));

export type OidcProviderConfig = z.output<typeof oidcProviderSchema>;

/** The list, names unique. */
export const oidcProvidersSchema = z
  .array(oidcProviderSchema)
  .max(20)
  .default([])
  .superRefine((list, ctx) => {
    list.forEach((p, i) => {
      if (list.findIndex((q) => q.name === p.name) !== i) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `"${p.name}" is used twice: each provider needs a name of its own` });
    });
  });

/** Where the provider sends the browser back to: registered as the client's redirect URI at the provider. */
export function oidcRedirectUri(origin: string, provider: string): string {
  return `${origin}/account/oidc/${provider}/callback`;
}
