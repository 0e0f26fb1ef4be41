/**
 * Cluster-wide settings: kept in the master's store, replicated to every replica, edited with
 * `otpgate settings set` or the admin UI. One schema, so every way of changing them gives the same messages.
 */
import { z } from 'zod';

const int = () => z.number().int();

export const OTP_ALGORITHMS = ['SHA1', 'SHA256', 'SHA512'] as const;
export type OtpAlgorithm = (typeof OTP_ALGORITHMS)[number];
export const AUTH_MODES = ['inline', 'code-only', 'challenge', 'push'] as const;
/**
 * inline: password and code in one User-Password; code-only: the code alone; challenge: password, then code; push:
 * the password alone (or with "push" in place of the code) is held until the user approves on the portal.
 */
export type AuthMode = (typeof AUTH_MODES)[number];

export const otpSettingsSchema = z
  .strictObject({
    /** Time steps accepted before the current one (clock drift, slow typing, NAS fail-over). */
    window_past: int().min(0).max(10).default(1),
    /** Time steps accepted after the current one (a token clock running ahead). */
    window_future: int().min(0).max(10).default(1),
    /** HOTP look-ahead: how many counter values past the last accepted one are tried. */
    hotp_window: int().min(1).max(100).default(10),
    /** Steps (TOTP) or counter values (HOTP) searched when resynchronising with two consecutive codes. */
    resync_window: int().min(2).max(10000).default(100),
    /** Secrets shorter than this are refused (RFC 4226 asks for 128 bits; 160 recommended). */
    min_secret_bits: int().min(128).max(512).default(128),
    /** Shown in authenticator apps next to the account name. */
    issuer: z.string().min(1).max(64).default('otpgate'),
    algorithm: z.enum(OTP_ALGORITHMS).default('SHA1'),
    digits: z.union([z.literal(6), z.literal(8)]).default(6),
    period: z.union([z.literal(30), z.literal(60)]).default(30),
  })
  .prefault({});

export const lockoutSettingsSchema = z
  .strictObject({
    /** Consecutive failures that lock an account; 0 turns lockout off. */
    max_failures: int().min(0).max(1000).default(5),
    duration_seconds: int().min(1).max(7 * 86400).default(900),
  })
  .prefault({});

export const realmSchema = z.strictObject({
  /** Matches user@name, case-insensitive. */
  name: z.string().min(1).max(253),
  /** Other spellings: NetBIOS domains for DOMAIN\\user, other UPN suffixes. */
  aliases: z.array(z.string().min(1)).default([]),
  /** Look the user up (and pass them to the backends) without the realm. */
  strip: z.boolean().default(true),
  /** This realm's backend chain; empty = the client's or the default chain. */
  backends: z.array(z.string()).default([]),
});
export type RealmSettings = z.output<typeof realmSchema>;

/** Accounts named one by one, or by otpgate group (local membership). */
const accountListSchema = z
  .strictObject({
    /** User names (after realm stripping). */
    users: z.array(z.string()).default([]),
    /** otpgate groups (local membership, so a guess without a code never reaches the directory). */
    groups: z.array(z.string()).default([]),
  })
  .prefault({});
export type AccountList = z.output<typeof accountListSchema>;

export const authSettingsSchema = z
  .strictObject({
    /** Mode for clients and users that do not set their own. */
    default_mode: z.enum(AUTH_MODES).default('inline'),
    /**
     * code-first checks the cheap one-time code before the password (argon2 or a directory bind), so guesses
     * without a valid code cost almost nothing and cannot lock directory accounts out.
     */
    check_order: z.enum(['code-first', 'password-first']).default('code-first'),
    challenge_prompt: z.string().min(1).max(200).default('Enter your one-time code'),
    challenge_timeout_seconds: int().min(10).max(600).default(120),
    /** Put the reject reason in a Reply-Message; off by default so a guesser learns nothing. */
    reveal_reject_reason: z.boolean().default(false),
    /**
     * Password backends tried in this order (names from `backends`). The next one is asked when one cannot answer
     * (down, timed out) or does not know the user; a definite answer (wrong password, locked...) ends the chain.
     */
    backends: z.array(z.string()).min(1).default(['local']),
    /** user@realm and DOMAIN\\user: stripped and routed to their own backend chain. */
    realms: z.array(realmSchema).default([]),
    /** Password alone, no code: for service accounts and devices that cannot do two factors. Logged as such. */
    single_factor: accountListSchema,
    /**
     * A new user without a token may log in with the password alone, to enrol: until the deadline the admin set
     * on the user, or for `days` after the user was created, at most `max_logins` times. Master only.
     */
    initial_login: z
      .strictObject({
        enabled: z.boolean().default(false),
        days: int().min(1).max(365).default(7),
        max_logins: int().min(1).max(1000).default(5),
      })
      .prefault({}),
  })
  .prefault({});

const backendName = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,31}$/, 'lower-case letters, digits, "_" and "-", at most 32');
const milliseconds = (fallback: number) => int().min(100).max(120_000).default(fallback);
/** PEM certificates to trust for a backend's TLS, in addition to nothing: a private CA is the usual case. */
const caCertificates = z
  .string()
  .default('')
  .refine((v) => v === '' || v.includes('-----BEGIN CERTIFICATE-----'), 'must be PEM certificates (-----BEGIN CERTIFICATE-----)');

export const localBackendSchema = z.strictObject({
  type: z.literal('local'),
  name: backendName,
});

/** The user search filter when none is given: Active Directory entries have neither inetOrgPerson nor uid. */
export function defaultUserFilter(activeDirectory: boolean): string {
  return activeDirectory ? '(&(objectClass=user)(|(sAMAccountName={user})(userPrincipalName={user})))' : '(&(objectClass=inetOrgPerson)(uid={user}))';
}

/** A filter that is one of the defaults: forms show it empty, so it keeps following the Active Directory switch. */
export function isDefaultUserFilter(filter: string | undefined): boolean {
  return filter === defaultUserFilter(true) || filter === defaultUserFilter(false);
}

/** LDAP, LDAPS or Active Directory, through ldapts. Secrets (bind_password) are sealed at rest. */
export const ldapBackendSchema = z
  .strictObject({
    type: z.literal('ldap'),
    name: backendName,
    /** ldap:// or ldaps:// URLs, tried in this order (failover). */
    servers: z.array(z.string().regex(/^ldaps?:\/\/[^/]+\/?$/, 'ldap://host[:port] or ldaps://host[:port]')).min(1),
    /** Upgrade ldap:// connections with StartTLS. */
    start_tls: z.boolean().default(false),
    /** Check the server certificate and host name (never turn off outside a lab). */
    verify_certificate: z.boolean().default(true),
    ca_certificates: caCertificates,
    /** Service account for search-then-bind; empty for an anonymous search. */
    bind_dn: z.string().default(''),
    bind_password: z.string().default(''),
    user_base_dn: z.string().default(''),
    /** {user} is replaced by the escaped user name (RFC 4515); the default depends on active_directory. */
    user_filter: z.string().optional(),
    scope: z.enum(['base', 'one', 'sub']).default('sub'),
    /** Bind directly as this DN or UPN instead of searching, e.g. "{user}@example.com"; empty = search then bind. */
    bind_template: z.string().default(''),
    /** Active Directory: userAccountControl, lockout and expiry attributes, error 49 sub-codes. */
    active_directory: z.boolean().default(false),
    /** Attribute of the user entry listing its groups (memberOf); ignored when group_base_dn is set. */
    group_attribute: z.string().default('memberOf'),
    /** Search for groups here with group_filter instead of reading group_attribute. */
    group_base_dn: z.string().default(''),
    /** {dn} is the user's DN, {user} the user name. */
    group_filter: z.string().default('(&(objectClass=groupOfNames)(member={dn}))'),
    /** Active Directory only: follow nested groups (LDAP_MATCHING_RULE_IN_CHAIN). */
    nested_groups: z.boolean().default(false),
    /** Directory group (DN or CN, any case) -> otpgate group. Unmapped directory groups are ignored. */
    group_map: z.record(z.string(), z.string()).default({}),
    connect_timeout_ms: milliseconds(3000),
    timeout_ms: milliseconds(5000),
    /**
     * Connections per server for searches, and as many for user binds (one bind at a time each): the bind count
     * caps how many logins are checked at once, so it matches FreeRADIUS rlm_ldap's usual 32 connections in all.
     */
    pool_size: int().min(1).max(64).default(16),
  })
  .transform((b) => ({ ...b, user_filter: b.user_filter ?? defaultUserFilter(b.active_directory) }));

/** Microsoft Entra ID, password checked with the OAuth2 resource owner password credentials grant (undici). */
export const entraBackendSchema = z.strictObject({
  type: z.literal('entra'),
  name: backendName,
  authority: z.url({ protocol: /^https$/ }).default('https://login.microsoftonline.com'),
  /** Tenant id or domain (contoso.onmicrosoft.com). */
  tenant: z.string().min(1),
  client_id: z.string().min(1),
  /** Only for confidential app registrations. */
  client_secret: z.string().default(''),
  scope: z.string().default('openid'),
  /** "user" becomes "user@upn_domain" when the name has no @. */
  upn_domain: z.string().default(''),
  /** A token issued for the password alone means the account has no MFA; refused unless this is true. */
  accept_without_mfa: z.boolean().default(false),
  timeout_ms: milliseconds(10000),
  ca_certificates: caCertificates,
});

export const backendSchema = z.discriminatedUnion('type', [localBackendSchema, ldapBackendSchema, entraBackendSchema]);
export type BackendSettings = z.output<typeof backendSchema>;
export type LdapBackendSettings = z.output<typeof ldapBackendSchema>;
export type EntraBackendSettings = z.output<typeof entraBackendSchema>;

/** Push approval (auth mode `push`): how long a login waits, number matching, and how often a user may be asked. */
export const pushSettingsSchema = z
  .strictObject({
    /** A held login is Rejected after this long without an answer; keep it under the NAS's RADIUS timeout (deploy/push.md). */
    timeout_seconds: int().min(5).max(120).default(25),
    /**
     * Against push fatigue: the password gets an Access-Challenge whose Reply-Message shows a 2-digit number, and the
     * approval page asks the user to pick it. Off: the login is held at once, and the page shows client, address and time.
     */
    number_matching: z.boolean().default(false),
    /** Pushes one user may be sent per minute, cluster-wide; more are Rejected (push-limited) without a notice. */
    max_per_user_per_minute: int().min(1).max(60).default(3),
  })
  .prefault({});

/** Settings fields that hold secrets: sealed at rest, never shown, in clear only inside the cluster feed. */
export const SETTINGS_SECRET_FIELDS = ['bind_password', 'client_secret'] as const;

export const settingsSchema = z
  .strictObject({
    otp: otpSettingsSchema,
    lockout: lockoutSettingsSchema,
    auth: authSettingsSchema,
    push: pushSettingsSchema,
    /** Password backends by name; auth.backends chains them. */
    backends: z.array(backendSchema).default([{ type: 'local', name: 'local' }]),
    /** The self-service enrollment portal (on the master, when enabled in its config file). */
    enrollment: z
      .strictObject({
        /** A user who has a token may add another by signing in with password + code; otherwise refused. */
        allow_additional_tokens: z.boolean().default(false),
      })
      .prefault({}),
    /**
     * How users sign in to the portal with a passkey; users in neither list may use both ways. A user in both lists
     * signs in the second-factor way.
     */
    passkeys: z
      .strictObject({
        /** Only passwordless: a discoverable credential with user verification; the password-then-key way is refused. */
        passwordless: accountListSchema,
        /** Only the password first, then the key (any FIDO2 key); a passwordless sign-in is refused. */
        second_factor: accountListSchema,
        /**
         * These accounts reach the VPN with a passkey only: RADIUS takes their one-time VPN passwords from a passkey
         * sign-in on the portal, and their push logins (approved with the key); a password and code alone is refused
         * (passkey-required). They sign in to the portal with password and code only to register a key.
         */
        required: accountListSchema,
      })
      .prefault({}),
    /** Who may sign in to the admin UI besides the built-in admin account. */
    admin: z
      .strictObject({
        /** A directory backend whose members of `directory_group` sign in with their directory password. */
        directory_backend: z.string().default(''),
        /** The otpgate group (after the backend's group_map) that makes a directory user an admin. */
        directory_group: z.string().default(''),
      })
      .prefault({}),
  })
  .prefault({})
  .superRefine((s, ctx) => {
    const names = new Set<string>();
    s.backends.forEach((b, i) => {
      if (names.has(b.name)) ctx.addIssue({ code: 'custom', path: ['backends', i, 'name'], message: `backend name "${b.name}" is used twice` });
      names.add(b.name);
    });
    const known = (list: readonly string[], path: PropertyKey[]) =>
      list.forEach((name, i) => {
        if (!names.has(name)) ctx.addIssue({ code: 'custom', path: [...path, i], message: `no backend named "${name}" (known: ${[...names].join(', ')})` });
      });
    known(s.auth.backends, ['auth', 'backends']);
    if (s.admin.directory_backend) known([s.admin.directory_backend], ['admin', 'directory_backend']);
    if (s.admin.directory_backend && !s.admin.directory_group) {
      ctx.addIssue({ code: 'custom', path: ['admin', 'directory_group'], message: 'set the group whose members are admins' });
    }
    s.auth.realms.forEach((r, i) => known(r.backends, ['auth', 'realms', i, 'backends']));
  });

/** Settings with every secret replaced by a mask, for display and export without secrets. */
export function maskSettingsSecrets(settings: Settings): Settings {
  return {
    ...settings,
    backends: settings.backends.map((b) => {
      const out: Record<string, unknown> = { ...b };
      for (const f of SETTINGS_SECRET_FIELDS) if (typeof out[f] === 'string' && out[f] !== '') out[f] = SECRET_MASK;
      return out as BackendSettings;
    }),
  };
}

export const SECRET_MASK = '********';

export type Settings = z.output<typeof settingsSchema>;
export type SettingsInput = z.input<typeof settingsSchema>;
