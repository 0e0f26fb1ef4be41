/**
 * A RADIUS client's VPN profile: what the portal needs to build the helper downloads that start a connection with a
 * one-time credential (an Apple .mobileconfig, a Windows PowerShell snippet). Configured by an admin per client; kept
 * on the master only (the portal is there), the L2TP shared secret sealed like every other secret at rest.
 */
import { z } from 'zod';

export const VPN_PROFILE_TYPES = ['ikev2', 'l2tp'] as const;
export type VpnProfileType = (typeof VPN_PROFILE_TYPES)[number];

/** A host name, IPv4 or IPv6 address (no scheme, no port: the VPN protocols fix their ports). */
const serverAddress = z
  .string()
  .trim()
  .min(1)
  .max(253)
  .regex(/^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*|[0-9A-Fa-f:.]+)$/, 'a host name or an IP address, without scheme or port');

export const vpnProfileInputSchema = z
  .strictObject({
    /** The connection's name on the user's device. */
    display_name: z.string().trim().min(1).max(64),
    type: z.enum(VPN_PROFILE_TYPES),
    server: serverAddress,
    /** IKEv2: the server's identity (its certificate's name); empty: the server address. */
    remote_id: z.string().trim().max(253).regex(/^[\x21-\x7e]*$/, 'printable ASCII without spaces').default(''),
    /** L2TP/IPsec: the pre-shared key (required there, refused for IKEv2). */
    shared_secret: z.string().min(8, 'at least 8 characters').max(128).regex(/^[\x20-\x7e]+$/, 'printable ASCII').optional(),
  })
  .superRefine((p, ctx) => {
    if (p.type === 'l2tp' && p.shared_secret === undefined) ctx.addIssue({ code: 'custom', path: ['shared_secret'], message: 'L2TP/IPsec needs its shared secret' });
    if (p.type === 'ikev2' && p.shared_secret !== undefined) ctx.addIssue({ code: 'custom', path: ['shared_secret'], message: 'IKEv2 with EAP takes no shared secret' });
  });
export type VpnProfileInput = z.input<typeof vpnProfileInputSchema>;

export interface VpnProfile {
  /** The RADIUS client's name. */
  client: string;
  display_name: string;
  type: VpnProfileType;
  server: string;
  remote_id: string;
  shared_secret?: string;
  updated_at: number;
}
