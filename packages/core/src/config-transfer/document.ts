/**
 * The config export document: one JSON file with the cluster's settings, clients, groups and (optionally) users,
 * tokens and the hardware inventory. Secrets never sit in the body; when asked for, they travel in `secrets`,
 * encrypted under a passphrase. `checksum` (SHA-256 over the canonical JSON of everything else) detects damage.
 */
import { z } from 'zod';
import {
  clientRecordSchema,
  groupRecordSchema,
  hardwareTokenRecordSchema,
  settingsSchema,
  tokenRecordSchema,
  tokenStateRecordSchema,
  userRecordSchema,
} from '@otpgate/shared';
import { MAX_SCRYPT_MEMORY, scryptMemory } from '../passphrase-key.js';

export const CONFIG_FORMAT = 'otpgate-config';
export const CONFIG_VERSION = 1;

const username = userRecordSchema.shape.username;

export const exportedGroupSchema = groupRecordSchema.omit({ id: true });
export const exportedClientSchema = clientRecordSchema.omit({ id: true, secret: true });
export const exportedUserSchema = userRecordSchema.omit({ id: true, password_hash: true }).extend({
  /** Whether the user had a local password (its hash is a secret, in `secrets` when exported with them). */
  has_password: z.boolean(),
});
export const exportedTokenSchema = tokenRecordSchema.omit({ id: true, user_id: true, secret: true }).extend({
  username,
  /** The last accepted step or counter (-1: never used), so codes used before the move are replays after it. */
  last_step: tokenStateRecordSchema.shape.last_step.default(-1),
  drift: tokenStateRecordSchema.shape.drift.default(0),
});
export const exportedHardwareSchema = hardwareTokenRecordSchema.omit({ id: true, token_id: true, secret: true }).extend({
  /** The user holding it (their token with this serial), or null while it is in the drawer. */
  assigned_to: username.nullable(),
});

export const configBodySchema = z.strictObject({
  settings: settingsSchema,
  groups: z.array(exportedGroupSchema),
  clients: z.array(exportedClientSchema),
  users: z.array(exportedUserSchema).optional(),
  tokens: z.array(exportedTokenSchema).optional(),
  hardware_tokens: z.array(exportedHardwareSchema).optional(),
});
export type ConfigBody = z.output<typeof configBodySchema>;

/** The secrets, as encrypted: by name, and token secrets in the order of `body.tokens`. */
export const configSecretsSchema = z.strictObject({
  backends: z.record(z.string(), z.strictObject({ bind_password: z.string().optional(), client_secret: z.string().optional() })),
  clients: z.record(z.string(), z.string().min(1)),
  /** Local password hashes (argon2id PHC strings) by user name. */
  users: z.record(z.string(), z.string().min(1)),
  tokens: z.array(tokenRecordSchema.shape.secret),
  hardware_tokens: z.record(z.string(), hardwareTokenRecordSchema.shape.secret),
});
export type ConfigSecrets = z.output<typeof configSecretsSchema>;

const base64 = (min: number) => z.string().regex(/^[A-Za-z0-9+/]+={0,2}$/, 'base64').refine((v) => Buffer.from(v, 'base64').length >= min, `at least ${min} bytes`);

/** scrypt parameters travel in the document; bounded so a crafted file cannot ask for gigabytes or hours. */
export const kdfSchema = z
  .strictObject({
    name: z.literal('scrypt'),
    n: z.number().int().min(2 ** 14).max(2 ** 20).refine((n) => (n & (n - 1)) === 0, 'a power of two'),
    r: z.number().int().min(1).max(16),
    p: z.number().int().min(1).max(4),
    salt: base64(16),
    key_length: z.literal(32),
  })
  .refine((k) => scryptMemory(k) <= MAX_SCRYPT_MEMORY, { message: `n x r asks for more than ${MAX_SCRYPT_MEMORY / 2 ** 20} MiB of memory`, path: ['n'] });
export type KdfParameters = z.output<typeof kdfSchema>;

export const secretsEnvelopeSchema = z.strictObject({
  kdf: kdfSchema,
  cipher: z.literal('aes-256-gcm'),
  iv: base64(12),
  tag: base64(16),
  ciphertext: base64(1),
});
export type SecretsEnvelope = z.output<typeof secretsEnvelopeSchema>;

export const configDocumentSchema = z.strictObject({
  format: z.literal(CONFIG_FORMAT),
  version: z.literal(CONFIG_VERSION),
  exported_at: z.string(),
  generator: z.string(),
  contents: z.strictObject({ users: z.boolean(), secrets: z.boolean() }),
  body: configBodySchema,
  secrets: secretsEnvelopeSchema.nullable(),
  checksum: z.string().regex(/^sha256:[0-9a-f]{64}$/, '"sha256:" and 64 hex digits'),
});
export type ConfigDocument = z.output<typeof configDocumentSchema>;
