import { z } from 'zod';

/**
 * Cluster-wide settings: kept in the master's store, replicated to every replica, edited with
 * `otpgate settings set` or the admin UI. One schema, so every way of changing them gives the same messages.
 */
const int = () => z.number().int();

export const OTP_ALGORITHMS = ['SHA1', 'SHA256', 'SHA512'] as const;
export type OtpAlgorithm = (typeof OTP_ALGORITHMS)[number];
export const AUTH_MODES = ['inline', 'code-only', 'challenge'] as const;
/** inline: password and code in one User-Password; code-only: the code alone; challenge: password, then code. */
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
  })
  .prefault({});

export const settingsSchema = z
  .strictObject({
    otp: otpSettingsSchema,
    lockout: lockoutSettingsSchema,
    auth: authSettingsSchema,
  })
  .prefault({});

export type Settings = z.output<typeof settingsSchema>;
export type SettingsInput = z.input<typeof settingsSchema>;
