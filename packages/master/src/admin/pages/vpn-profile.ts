/**
 * A RADIUS client's VPN profile (admin UI): what the portal's helper downloads for a one-time VPN credential on that
 * client carry. The L2TP shared secret is never shown back: an empty field keeps the stored one.
 */
import type { FastifyInstance } from 'fastify';
import { VPN_PROFILE_TYPES, type VpnProfileType } from '@otpgate/shared';
import { html } from '../../web/html.js';
import { actionButton } from '../layout.js';
import { csrfField, field, select } from '../../web/fields.js';
import type { Ui } from '../ui.js';
import { formText } from '../../web/form.js';

const TYPE_NAMES: Record<VpnProfileType, string> = { ikev2: 'IKEv2 (EAP with user name and password)', l2tp: 'L2TP/IPsec (shared secret)' };

export function registerVpnProfilePages(app: FastifyInstance, ui: Ui): void {
  const { services } = ui.deps;
  const base = (name: string) => `/clients/${encodeURIComponent(name)}/vpn-profile`;

  app.get(
    '/clients/:name/vpn-profile',
    ui.view((ctx) => {
      const client = services.clients.get(ctx.params.name!);
      const p = services.vpnProfiles.view(client.name);
      return ui.render(
        ctx,
        `VPN profile of ${client.name}`,
        '/clients',
        html`<p>With a profile, users who get a one-time VPN password on the portal for this client can also download a file that sets up the connection (Apple .mobileconfig, Windows PowerShell).</p>
<form method="post" action="${base(client.name)}">${csrfField(ctx.session)}<input type="hidden" name="_back" value="${base(client.name)}">
${field('Connection name', 'display_name', { value: p?.display_name ?? client.name, required: true, hint: 'As users see it on their device.' })}
${select('Type', 'type', VPN_PROFILE_TYPES.map((t) => [t, TYPE_NAMES[t]] as const), p?.type ?? 'ikev2')}
${field('Server address', 'server', { value: p?.server ?? '', required: true, hint: 'The VPN gateway users connect to: a host name or an IP address.' })}
${field('Remote identifier', 'remote_id', { value: p?.remote_id ?? '', hint: 'IKEv2: the name in the gateway\'s certificate; empty: the server address.' })}
${field('L2TP shared secret', 'shared_secret', { type: 'password', autocomplete: 'new-password', hint: p?.has_shared_secret ? 'L2TP only. Empty: keep the current one.' : 'L2TP only (at least 8 characters).' })}
<div class="actions"><button type="submit">Save VPN profile</button></div></form>
${p ? html`<div class="actions">${actionButton(ctx.session, `${base(client.name)}/delete`, 'Remove VPN profile', { danger: true, confirm: `Remove the VPN profile of ${client.name}?` })}</div>` : ''}
<p><a href="/clients/${encodeURIComponent(client.name)}">Back to client ${client.name}</a></p>`,
      );
    }),
  );

  app.post(
    '/clients/:name/vpn-profile',
    ui.action((ctx) => {
      const type = formText(ctx.form, 'type') === 'l2tp' ? 'l2tp' : 'ikev2';
      const secret = typeof ctx.form.shared_secret === 'string' && ctx.form.shared_secret !== '' ? ctx.form.shared_secret : undefined;
      services.vpnProfiles.set(
        ctx.params.name!,
        { display_name: formText(ctx.form, 'display_name'), type, server: formText(ctx.form, 'server'), remote_id: formText(ctx.form, 'remote_id'), shared_secret: type === 'l2tp' ? secret : undefined },
        ctx.actor,
      );
      ctx.session.flash.push({ kind: 'ok', text: `VPN profile of ${ctx.params.name} saved.` });
      return { redirect: base(ctx.params.name!) };
    }),
  );

  app.post(
    '/clients/:name/vpn-profile/delete',
    ui.action((ctx) => {
      services.vpnProfiles.remove(ctx.params.name!, ctx.actor);
      ctx.session.flash.push({ kind: 'ok', text: `VPN profile of ${ctx.params.name} removed.` });
      return { redirect: `/clients/${encodeURIComponent(ctx.params.name!)}` };
    }),
  );
}
