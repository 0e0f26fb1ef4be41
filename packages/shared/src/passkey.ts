/**
 * A user's passkey or security key (WebAuthn credential) as the master stores it and the feed carries it, like a
 * token: the public key only (the private key never leaves the authenticator), so no field is secret.
 */
import { z } from 'zod';

const base64url = (max: number) => z.string().min(1).max(max).regex(/^[A-Za-z0-9_-]+$/, 'base64url');

export const PASSKEY_TRANSPORTS = ['ble', 'cable', 'hybrid', 'internal', 'nfc', 'smart-card', 'usb'] as const;

export const passkeyRecordSchema = z.strictObject({
  /** The credential id, base64url (WebAuthn allows up to 1023 bytes). */
  id: base64url(1366),
  user_id: z.number().int().positive(),
  /** The COSE public key, base64url. */
  public_key: base64url(4096),
  /** The authenticator's signature counter at its last use (0: the authenticator keeps none). */
  counter: z.number().int().nonnegative().max(0xffffffff),
  transports: z.array(z.enum(PASSKEY_TRANSPORTS)).max(PASSKEY_TRANSPORTS.length),
  /** A discoverable credential made with user verification: good for signing in without a password. */
  passwordless: z.boolean(),
  label: z.string().max(100),
  created_at: z.number().int().nonnegative(),
  last_used_at: z.number().int().nonnegative().nullable(),
});
export type PasskeyRecord = z.output<typeof passkeyRecordSchema>;
