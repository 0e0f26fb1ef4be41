import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { AUTH_MODES, type AuthMode, type ClientRecord } from '@otpgate/shared';
import { html } from '../../web/html.js';
import { actionButton, dataTable } from '../layout.js';
import { checkbox, csrfField, field, select } from '../../web/fields.js';
import type { Ui } from '../ui.js';
import { type Form, formChecked, formText } from '../../web/form.js';

const MODES: ReadonlyArray<readonly [string, string]> = [['', 'default'], ...AUTH_MODES.map((m) => [m, m] as const)];

function clientForm(form: Form) {
  const mode = formText(form, 'auth_mode');
  const backends = formText(form, 'backends').split(',').map((b) => b.trim()).filter(Boolean);
  return {
    address: formText(form, 'address'),
    require_message_authenticator: formChecked(form, 'require_message_authenticator'),
    single_factor: formChecked(form, 'single_factor'),
    auth_mode: mode === '' ? null : (mode as AuthMode),
    on_backend_error: formText(form, 'on_backend_error') === 'drop' ? ('drop' as const) : ('reject' as const),
    backends: backends.length > 0 ? backends : null,
    description: formText(form, 'description'),
  };
}

function clientFields(c: Partial<ClientRecord>) {
  return html`${field('IP address or CIDR block', 'address', { value: c.address ?? '', required: true, hint: 'e.g. 192.0.2.10, 10.0.0.0/24, 2001:db8::/64' })}
${checkbox('Require Message-Authenticator', 'require_message_authenticator', c.require_message_authenticator ?? true, 'On unless the client cannot send it (pam_radius_auth 2.0): protects against BlastRADIUS (CVE-2024-3596).')}
${select('Login mode', 'auth_mode', MODES, c.auth_mode ?? '')}
${checkbox('Password alone for every user of this client', 'single_factor', c.single_factor ?? false, 'Only for legacy devices that cannot do two factors; logged as single-factor.')}
${select('When the password backend cannot answer', 'on_backend_error', [['reject', 'reject'], ['drop', 'stay silent, so the client asks its next server']], c.on_backend_error ?? 'reject')}
${field('Backend chain', 'backends', { value: c.backends?.join(', ') ?? '', hint: 'backend names in order, separated by commas; empty: the default chain' })}
${field('Description', 'description', { value: c.description ?? '' })}`;
}

/** RADIUS clients (NAS): shared secrets are masked, and shown only when generated. */
export function registerClientPages(app: FastifyInstance, ui: Ui): void {
  const { services } = ui.deps;

  app.get(
    '/clients',
    ui.view((ctx) =>
      ui.render(
        ctx,
        'RADIUS clients',
        '/clients',
        html`${dataTable('Clients', ['Name', 'Address', 'Message-Authenticator', 'Mode', 'Backends', 'Shared secret'], services.clients.list().map((c) => [
          html`<a href="/clients/${encodeURIComponent(c.name)}">${c.name}</a>`,
          c.address,
          c.require_message_authenticator ? 'required' : html`<span class="warn">optional</span>`,
          `${c.auth_mode ?? 'default'}${c.single_factor ? ', single-factor' : ''}`,
          c.backends?.join(' > ') ?? 'default',
          c.secret,
        ]))}
<h2>Add a client</h2>
<form method="post" action="/clients">${csrfField(ctx.session)}<input type="hidden" name="_back" value="/clients">
${field('Name', 'name', { required: true })}
${clientFields({})}
${field('Shared secret', 'secret', { type: 'password', autocomplete: 'new-password', hint: 'empty: a random one is made and shown once' })}
<div class="actions"><button type="submit">Add client</button></div></form>`,
      ),
    ),
  );

  app.post(
    '/clients',
    ui.action((ctx) => {
      const typed = typeof ctx.form.secret === 'string' ? ctx.form.secret : '';
      const secret = typed || randomBytes(18).toString('base64url');
      const record = services.clients.add({ name: formText(ctx.form, 'name'), secret, ...clientForm(ctx.form) }, ctx.actor);
      if (typed) {
        ctx.session.flash.push({ kind: 'ok', text: `Client ${record.name} added.` });
        return { redirect: '/clients' };
      }
      return ui.render(
        ctx,
        `Client ${record.name} added`,
        '/clients',
        html`<p>Configure the NAS with this shared secret. It is shown only now:</p>
<p class="secret" id="shared-secret">${secret}</p><button type="button" class="secondary" data-copy="shared-secret">Copy</button>
<p><a href="/clients">Back to the clients</a></p>`,
      );
    }),
  );

  app.get(
    '/clients/:name',
    ui.view((ctx) => {
      const c = services.clients.get(ctx.params.name!);
      const base = `/clients/${encodeURIComponent(c.name)}`;
      return ui.render(
        ctx,
        `Client ${c.name}`,
        '/clients',
        html`<form method="post" action="${base}">${csrfField(ctx.session)}<input type="hidden" name="_back" value="${base}">
${clientFields(c)}
${field('New shared secret', 'secret', { type: 'password', autocomplete: 'new-password', hint: 'empty: keep the current one' })}
<div class="actions"><button type="submit">Save</button></div></form>
<p><a href="${base}/vpn-profile">VPN profile</a> (${services.vpnProfiles.view(c.name)?.display_name ?? 'none'}): the connection the user portal's set-up files create</p>
<div class="actions">${actionButton(ctx.session, `${base}/delete`, 'Delete client', { danger: true, confirm: `Stop serving ${c.name}?` })}</div>`,
      );
    }),
  );

  app.post(
    '/clients/:name',
    ui.action((ctx) => {
      const secret = typeof ctx.form.secret === 'string' && ctx.form.secret !== '' ? ctx.form.secret : undefined;
      services.clients.update(ctx.params.name!, { ...clientForm(ctx.form), secret }, ctx.actor);
      ctx.session.flash.push({ kind: 'ok', text: `Client ${ctx.params.name} saved.` });
      return { redirect: `/clients/${encodeURIComponent(ctx.params.name!)}` };
    }),
  );

  app.post(
    '/clients/:name/delete',
    ui.action((ctx) => {
      services.clients.remove(ctx.params.name!, ctx.actor);
      ctx.session.flash.push({ kind: 'ok', text: `Client ${ctx.params.name} deleted.` });
      return { redirect: '/clients' };
    }),
  );
}
