/**
 * Issuing one-time VPN credentials (master only): after a portal sign-in with a passkey or an identity provider, or by
 * an admin for a user who cannot reach the portal. The password is returned once and never stored (only its hash).
 */
import { ConflictError, InvalidInputError } from '@otpgate/shared';
import { ClientService } from '../services/clients.js';
import { recordAdminAction, type Actor, type ServiceContext } from '../services/context.js';
import { UserService } from '../services/users.js';
import { VpnCredentialTable } from './credential-table.js';
import { newVpnPassword, vpnPasswordHash } from './vpn-password.js';

/** How the user proved who they are: shown in the auth log with each use. */
export type VpnCredentialIssuer = 'admin' | 'passkey' | `oidc:${string}`;

export const VPN_CREDENTIAL_MAX_SECONDS = 3600;

export interface VpnCredentialRequest {
  username: string;
  /** The RADIUS client it is good for; any client when absent. */
  client?: string;
  ttlSeconds: number;
  issuedBy: VpnCredentialIssuer;
}

export interface IssuedVpnCredential {
  username: string;
  /** Shown once: only its hash is kept. */
  password: string;
  client: string | null;
  expiresAt: number;
}

export class VpnCredentialService {
  private table: VpnCredentialTable | undefined;

  constructor(private readonly ctx: ServiceContext) {}

  /** Issue a credential; `actor` when an admin asks (audited as an admin action). */
  issue(request: VpnCredentialRequest, actor?: Actor): IssuedVpnCredential {
    const { store } = this.ctx;
    store.assertWritable();
    if (!Number.isInteger(request.ttlSeconds) || request.ttlSeconds < 1 || request.ttlSeconds > VPN_CREDENTIAL_MAX_SECONDS) {
      throw new InvalidInputError(`must be a whole number of seconds from 1 to ${VPN_CREDENTIAL_MAX_SECONDS}`, 'lifetime');
    }
    const user = new UserService(this.ctx).get(request.username);
    if (user.status !== 'active') throw new ConflictError(`user "${user.username}" is disabled: no VPN credential is issued (enable the account first)`);
    const client = request.client === undefined ? null : new ClientService(this.ctx).get(request.client).name;
    const password = newVpnPassword();
    const expiresAt = Date.now() + request.ttlSeconds * 1000;
    this.table ??= new VpnCredentialTable(store.state);
    this.table.issue({ hash: vpnPasswordHash(password), userId: user.id, client, issuedBy: request.issuedBy, expiresAt });
    const details = { client, expires_at: new Date(expiresAt).toISOString(), issued_by: request.issuedBy };
    if (actor) recordAdminAction(this.ctx, actor, 'vpn-credential issue', user.username, { details });
    else this.ctx.logger.info({ event: 'vpn-credential-issued', user: user.username, ...details }, `one-time VPN credential issued to ${user.username}`);
    return { username: user.username, password, client, expiresAt };
  }

  /** Whether `password` is a credential issued to `username` that is still unused and unexpired. */
  isLive(username: string, password: string): boolean {
    this.table ??= new VpnCredentialTable(this.ctx.store.state);
    return this.table.live(vpnPasswordHash(password), new UserService(this.ctx).get(username).id);
  }
}
