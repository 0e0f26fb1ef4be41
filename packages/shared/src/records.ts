/**
 * The entities a master owns and replicas mirror. These shapes travel in the change feed and in snapshots (with
 * secrets in clear, inside mutual TLS), so every one has a schema the receiving side validates before use.
 */
import { z } from 'zod';
import { AUTH_MODES, OTP_ALGORITHMS } from './settings.js';

const id = z.number().int().positive();
const timestamp = z.number().int().nonnegative();

export const USERNAME_PATTERN = /^[^\s\\/"'<>*()\0][^\s"<>*()\0]{0,252}$/u;
export const username = z
  .string()
  .min(1)
  .max(253)
  .regex(USERNAME_PATTERN, 'no spaces, quotes, <, >, *, (, ), \\ or / at the start');

export const replyAttributeSchema = z.strictObject({
  /** A dictionary name, standard ("Filter-Id") or vendor-specific ("Fortinet-Group-Name"). */
  name: z.string().min(1).max(128),
  value: z.string().max(253),
});
export type ReplyAttribute = z.output<typeof replyAttributeSchema>;

export const userRecordSchema = z.strictObject({
  id,
  username,
  display_name: z.string().max(200),
  email: z.string().max(254),
  status: z.enum(['active', 'disabled']),
  /** argon2id PHC string of the local password, or null when the password is checked elsewhere. */
  password_hash: z.string().max(512).nullable(),
  auth_mode: z.enum(AUTH_MODES).nullable(),
  groups: z.array(z.string()),
  attributes: z.array(replyAttributeSchema),
  /** Until then the user may log in without a token, to enrol (null: the global allowance applies). */
  initial_login_until: timestamp.nullable(),
  created_at: timestamp,
  updated_at: timestamp,
});
export type UserRecord = z.output<typeof userRecordSchema>;

export const OTP_KINDS = ['totp', 'hotp'] as const;
export type OtpKind = (typeof OTP_KINDS)[number];

const otpParameters = {
  kind: z.enum(OTP_KINDS),
  algorithm: z.enum(OTP_ALGORITHMS),
  digits: z.union([z.literal(6), z.literal(8)]),
  period: z.union([z.literal(30), z.literal(60)]),
  /** The secret, base32 without padding. Only ever in clear inside the mutual-TLS feed. */
  secret: z.string().regex(/^[A-Z2-7]+$/, 'base32'),
  /** HOTP: the counter of the next code the token will show when it was issued. */
  counter: z.number().int().nonnegative(),
};

export const tokenRecordSchema = z.strictObject({
  id,
  user_id: id,
  ...otpParameters,
  /** T0 (RFC 6238), unix seconds; 0 for every common token. */
  t0: z.number().int().nonnegative(),
  window_past: z.number().int().min(0).max(10).nullable(),
  window_future: z.number().int().min(0).max(10).nullable(),
  serial: z.string().max(64).nullable(),
  label: z.string().max(100),
  active: z.boolean(),
  created_at: timestamp,
});
export type TokenRecord = z.output<typeof tokenRecordSchema>;

export const hardwareTokenRecordSchema = z.strictObject({
  id,
  serial: z.string().min(1).max(64),
  ...otpParameters,
  manufacturer: z.string().max(100),
  model: z.string().max(100),
  /** The user token made from it when assigned. */
  token_id: id.nullable(),
  created_at: timestamp,
});
export type HardwareTokenRecord = z.output<typeof hardwareTokenRecordSchema>;

/** Replay and drift state of one token, shared across the cluster so a code works once on any node. */
export const tokenStateRecordSchema = z.strictObject({
  token_id: id,
  /** The last accepted time step (TOTP) or counter (HOTP); -1 before the first use. */
  last_step: z.number().int().min(-1),
  /** Learned clock offset of the token, in steps. */
  drift: z.number().int(),
});
export type TokenStateRecord = z.output<typeof tokenStateRecordSchema>;

export const groupRecordSchema = z.strictObject({
  id,
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$/, 'letters, digits, space, ".", "_" and "-", at most 64'),
  description: z.string().max(200),
  attributes: z.array(replyAttributeSchema),
});
export type GroupRecord = z.output<typeof groupRecordSchema>;

export const clientRecordSchema = z.strictObject({
  id,
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'letters, digits, ".", "_" and "-", at most 64'),
  /** One IP address or a CIDR block; the most specific match wins. */
  address: z.string().min(2).max(64),
  secret: z.string().min(1).max(128),
  /** BlastRADIUS (CVE-2024-3596): drop Access-Requests without a valid Message-Authenticator. */
  require_message_authenticator: z.boolean(),
  auth_mode: z.enum(AUTH_MODES).nullable(),
  /** When the password backend cannot answer: reject, or stay silent so the NAS asks its next server. */
  on_backend_error: z.enum(['reject', 'drop']),
  /** This client's backend chain; null = the default (auth.backends). */
  backends: z.array(z.string()).nullable(),
  /** Every user of this client may log in with the password alone (legacy devices). */
  single_factor: z.boolean(),
  description: z.string().max(200),
});
export type ClientRecord = z.output<typeof clientRecordSchema>;

/** An admin unlock: clears the user's failure count on every node. */
/**
 * A lockout entry: without `locked_until` (or null) an admin's unlock, which clears the user's failure count on every
 * node; with it, a lock the master decided for the whole cluster (failures counted on any node), until then.
 */
export const lockoutRecordSchema = z.strictObject({ user_id: id, locked_until: z.number().int().nonnegative().nullable().optional() });
export type LockoutRecord = z.output<typeof lockoutRecordSchema>;

/** An account of the admin UI; its argon2id hash is replicated so every node knows the same admin password. */
export const adminRecordSchema = z.strictObject({
  username: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/, 'letters, digits, ".", "_", "@" and "-", at most 64'),
  password_hash: z.string().min(1).max(512),
  created_at: timestamp,
  updated_at: timestamp,
});
export type AdminRecord = z.output<typeof adminRecordSchema>;
