/**
 * Each RADIUS client's VPN profile (master only): what the portal puts into the helper downloads of a one-time VPN
 * credential. The L2TP shared secret is sealed at rest under the node's key and never shown back to admins; audit
 * records say that it changed, never what it is. Not on the feed: only the master's portal serves downloads.
 */
import { parseWith, seal, unseal, vpnProfileInputSchema, type VpnProfile, type VpnProfileInput, type VpnProfileType } from '@otpgate/shared';
import { ClientService } from '../services/clients.js';
import { recordAdminAction, type Actor, type ServiceContext } from '../services/context.js';

const SEAL_CONTEXT = 'vpn-profile-secret';

/** What admins see: the secret only as whether one is set. */
export type VpnProfileView = Omit<VpnProfile, 'shared_secret'> & { has_shared_secret: boolean };

export class VpnProfileService {
  constructor(private readonly ctx: ServiceContext) {}

  private get store() {
    return this.ctx.store;
  }

  /** The client's profile with its secret in clear, for a download; undefined when it has none. */
  get(clientName: string): VpnProfile | undefined {
    const db = this.store.db;
    const row = db.first(
      db.q.selectFrom('vpn_profiles').innerJoin('clients', 'clients.id', 'vpn_profiles.client_id').selectAll('vpn_profiles').select('clients.name').where('clients.name', '=', clientName),
    );
    if (!row) return undefined;
    const { client_id: _id, shared_secret_sealed, name, type, ...rest } = row;
    return {
      ...rest,
      client: name,
      type: type as VpnProfileType,
      ...(shared_secret_sealed === null ? {} : { shared_secret: unseal(this.store.sealKey, shared_secret_sealed, SEAL_CONTEXT).toString() }),
    };
  }

  view(clientName: string): VpnProfileView | undefined {
    const profile = this.get(clientName);
    if (!profile) return undefined;
    const { shared_secret, ...rest } = profile;
    return { ...rest, has_shared_secret: shared_secret !== undefined };
  }

  /** Every client that has a profile, by display name: what the portal offers. */
  list(): VpnProfileView[] {
    const db = this.store.db;
    const rows = db.all(db.q.selectFrom('vpn_profiles').innerJoin('clients', 'clients.id', 'vpn_profiles.client_id').select('clients.name').orderBy('vpn_profiles.display_name'));
    return rows.flatMap((r) => this.view(r.name) ?? []);
  }

  /** Create or replace the client's profile. An L2TP profile saved without a secret keeps the one it has. */
  set(clientName: string, input: VpnProfileInput, actor: Actor): VpnProfileView {
    this.store.assertWritable();
    const saved = this.store.db.transaction(() => {
      const client = new ClientService(this.ctx).get(clientName);
      const current = this.get(client.name);
      const keep = input.shared_secret === undefined && input.type === 'l2tp' && current?.type === 'l2tp' ? current.shared_secret : undefined;
      const profile = parseWith(vpnProfileInputSchema, { ...input, ...(keep === undefined ? {} : { shared_secret: keep }) }, 'VPN profile');
      this.store.db.upsert(
        'vpn_profiles',
        {
          client_id: client.id,
          display_name: profile.display_name,
          type: profile.type,
          server: profile.server,
          remote_id: profile.remote_id,
          shared_secret_sealed: profile.shared_secret === undefined ? null : seal(this.store.sealKey, profile.shared_secret, SEAL_CONTEXT),
          updated_at: Date.now(),
        },
        'client_id',
      );
      return { before: current, changedSecret: input.shared_secret !== undefined };
    });
    const view = this.view(clientName)!;
    const { shared_secret: _before, ...before } = saved.before ?? {};
    recordAdminAction(this.ctx, actor, 'client.vpn-profile', clientName, { before: saved.before ? before : undefined, after: view, details: { shared_secret_changed: saved.changedSecret } });
    return view;
  }

  remove(clientName: string, actor: Actor): void {
    this.store.assertWritable();
    const client = new ClientService(this.ctx).get(clientName);
    const before = this.view(client.name);
    this.store.db.run(this.store.db.q.deleteFrom('vpn_profiles').where('client_id', '=', client.id));
    if (before) recordAdminAction(this.ctx, actor, 'client.vpn-profile-remove', client.name, { before });
  }
}
