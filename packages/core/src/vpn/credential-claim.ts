/**
 * The master's side of a replica's use of a one-time VPN credential (POST /v1/vpn-credentials/use): the same
 * conditional write as a use on the master itself, with the user's status read from the master's configuration
 * database and the cluster-wide lock from its state database.
 */
import { vpnCredentialClaimSchema, InvalidInputError, type VpnCredentialAnswer } from '@otpgate/shared';
import type { Store } from '../store/store.js';
import { VpnCredentialTable } from './credential-table.js';

export function claimVpnCredential(store: Store, replica: string, body: unknown, now = Date.now()): VpnCredentialAnswer {
  const parsed = vpnCredentialClaimSchema.safeParse(body);
  if (!parsed.success) throw new InvalidInputError(parsed.error.issues[0]?.message ?? 'malformed', 'VPN credential claim');
  const claim = parsed.data;
  const user = store.read('user', String(claim.user_id));
  if (user?.status !== 'active') return { use: user ? 'disabled' : 'other-user' };
  // (the table's statements are prepared once per connection: the store keeps them)
  const table = new VpnCredentialTable(store.state);
  const attempt = { hash: claim.hash, userId: claim.user_id, client: claim.client, requestKey: `replica:${replica}|${claim.request_key}` };
  return store.state.transaction(() => table.use(attempt, now));
}
