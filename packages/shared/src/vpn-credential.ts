/**
 * One-time VPN credentials: what a replica sends the master to use one (POST /v1/vpn-credentials/use) and the
 * master's answer. Only the master holds credentials (their hashes, in its state database): a replica asks it for
 * each, so a credential is good on every node the moment it is issued and is used once in the whole cluster.
 */
import { z } from 'zod';

/** What became of a credential a request presented. */
export const VPN_CREDENTIAL_USES = [
  /** This request used it now. */
  'used',
  /** This same request (a retransmission) used it before: the same answer again. */
  'repeat',
  /** No credential has this hash: the password is an ordinary one. */
  'unknown',
  /** Another request used it. */
  'spent',
  'expired',
  /** Bound to another RADIUS client. */
  'other-client',
  /** Issued to another user. */
  'other-user',
  /** The account is locked, or disabled (read inside the transaction that would use the credential). */
  'locked',
  'disabled',
] as const;
export type VpnCredentialUse = (typeof VPN_CREDENTIAL_USES)[number];

export const vpnCredentialClaimSchema = z.strictObject({
  /** SHA-256 of the password, hex: the master never sees the password itself. */
  hash: z.string().regex(/^[0-9a-f]{64}$/),
  user_id: z.number().int().min(1),
  /** The RADIUS client's name, as every node's client table holds it. */
  client: z.string().min(1).max(128),
  /** Names the RADIUS request on the replica: a retransmission gets the same answer. */
  request_key: z.string().min(1).max(256),
});
export type VpnCredentialClaim = z.output<typeof vpnCredentialClaimSchema>;

export const vpnCredentialAnswerSchema = z.strictObject({
  use: z.enum(VPN_CREDENTIAL_USES),
  /** How the credential was issued (portal sign-in method, or admin): for the auth log. */
  issued_by: z.string().max(32).optional(),
});
export type VpnCredentialAnswer = z.output<typeof vpnCredentialAnswerSchema>;
