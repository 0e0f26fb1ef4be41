import type { FastifyInstance } from 'fastify';
import { SECRET_MASK, isDefaultUserFilter, type BackendSettings, type EntraBackendSettings, type LdapBackendSettings } from '@otpgate/shared';
import { html } from '../../web/html.js';
import { actionButton, dataTable } from '../layout.js';
import { checkbox, csrfField, field, textarea } from '../../web/fields.js';
import type { Ui } from '../ui.js';
import { type Form, formChecked, formText } from '../../web/form.js';

type Ldap = Partial<LdapBackendSettings>;
type Entra = Partial<EntraBackendSettings>;

function ldapFields(b: Ldap) {
  return html`${textarea('Servers', 'servers', (b.servers ?? []).join('\n'), { rows: 2, hint: 'ldap://host[:port] or ldaps://host[:port], one per line, tried in order' })}
${checkbox('StartTLS on ldap:// servers', 'start_tls', b.start_tls ?? false)}
${checkbox('Verify the server certificate and host name', 'verify_certificate', b.verify_certificate ?? true, 'Leave on outside a lab.')}
${textarea('Trusted CA certificates (PEM)', 'ca_certificates', b.ca_certificates ?? '', { rows: 4 })}
${field('Service account DN', 'bind_dn', { value: b.bind_dn ?? '' })}
${field('Service account password', 'bind_password', { type: 'password', value: b.bind_password ? SECRET_MASK : '', autocomplete: 'off', hint: 'left as shown: unchanged' })}
${field('User search base', 'user_base_dn', { value: b.user_base_dn ?? '' })}
${field('User filter', 'user_filter', { value: isDefaultUserFilter(b.user_filter) ? '' : (b.user_filter ?? ''), hint: '{user} is the escaped user name; empty: (&(objectClass=inetOrgPerson)(uid={user})), or with Active Directory on, sAMAccountName or userPrincipalName' })}
${field('Direct bind template', 'bind_template', { value: b.bind_template ?? '', hint: 'instead of searching, e.g. {user}@example.com' })}
${checkbox('Active Directory', 'active_directory', b.active_directory ?? false)}
${field('Group search base', 'group_base_dn', { value: b.group_base_dn ?? '', hint: 'empty: read memberOf' })}
${checkbox('AD nested groups', 'nested_groups', b.nested_groups ?? false)}
${textarea('Group map', 'group_map', Object.entries(b.group_map ?? {}).map(([k, v]) => `${k} => ${v}`).join('\n'), { rows: 3, hint: 'one "directory group DN or CN => otpgate group" per line' })}
${field('Timeout (ms)', 'timeout_ms', { value: b.timeout_ms ?? 5000, inputmode: 'numeric' })}`;
}

function entraFields(b: Entra) {
  return html`${field('Tenant', 'tenant', { value: b.tenant ?? '', hint: 'tenant id or contoso.onmicrosoft.com' })}
${field('Application (client) id', 'client_id', { value: b.client_id ?? '', hint: 'the app registration must allow public client flows' })}
${field('Client secret', 'client_secret', { type: 'password', value: b.client_secret ? SECRET_MASK : '', autocomplete: 'off', hint: 'only for confidential apps; left as shown: unchanged' })}
${field('Scope', 'scope', { value: b.scope ?? 'openid' })}
${field('UPN domain', 'upn_domain', { value: b.upn_domain ?? '', hint: 'user becomes user@domain' })}
${field('Authority', 'authority', { value: b.authority ?? 'https://login.microsoftonline.com' })}
${checkbox('Accept accounts without MFA', 'accept_without_mfa', b.accept_without_mfa ?? false, 'A token for the password alone means the account has no MFA: refused unless ticked.')}
${textarea('Extra trusted CA certificates (PEM)', 'ca_certificates', b.ca_certificates ?? '', { rows: 3 })}
${field('Timeout (ms)', 'timeout_ms', { value: b.timeout_ms ?? 10000, inputmode: 'numeric' })}`;
}

function fromForm(type: 'ldap' | 'entra', name: string, f: Form): Record<string, unknown> {
  const number = (n: string) => (formText(f, n) === '' ? undefined : Number(formText(f, n)));
  if (type === 'entra') {
    return {
      type, name, tenant: formText(f, 'tenant'), client_id: formText(f, 'client_id'), client_secret: formText(f, 'client_secret'),
      scope: formText(f, 'scope') || undefined, upn_domain: formText(f, 'upn_domain'), authority: formText(f, 'authority') || undefined,
      accept_without_mfa: formChecked(f, 'accept_without_mfa'), ca_certificates: formText(f, 'ca_certificates'), timeout_ms: number('timeout_ms'),
    };
  }
  const groupMap = Object.fromEntries(
    formText(f, 'group_map').split(/\r?\n/).map((l) => l.split('=>').map((x) => x.trim())).filter((p) => p.length === 2 && p[0] && p[1]) as Array<[string, string]>,
  );
  return {
    type, name, servers: formText(f, 'servers').split(/\s+/).filter(Boolean), start_tls: formChecked(f, 'start_tls'),
    verify_certificate: formChecked(f, 'verify_certificate'), ca_certificates: formText(f, 'ca_certificates'), bind_dn: formText(f, 'bind_dn'),
    bind_password: formText(f, 'bind_password'), user_base_dn: formText(f, 'user_base_dn'), user_filter: formText(f, 'user_filter') || undefined,
    bind_template: formText(f, 'bind_template'), active_directory: formChecked(f, 'active_directory'), group_base_dn: formText(f, 'group_base_dn'),
    nested_groups: formChecked(f, 'nested_groups'), group_map: groupMap, timeout_ms: number('timeout_ms'),
  };
}

function where(b: BackendSettings): string {
  if (b.type === 'ldap') return b.servers.join(', ');
  if (b.type === 'entra') return `${b.authority}/${b.tenant}`;
  return 'otpgate\'s own store (argon2id)';
}

/** Backends: LDAP/AD and Entra ID settings, the default chain, and "test connection" showing what the server said. */
export function registerBackendPages(app: FastifyInstance, ui: Ui): void {
  const { services } = ui.deps;

  app.get(
    '/backends',
    ui.view((ctx) => {
      const settings = services.settings.get();
      return ui.render(
        ctx,
        'Backends',
        '/backends',
        html`${dataTable('Password backends', ['Name', 'Type', 'Where'], services.backends.list().map((b) => [
          b.type === 'local' ? b.name : html`<a href="/backends/${encodeURIComponent(b.name)}">${b.name}</a>`,
          b.type,
          where(b),
        ]))}
<h2>Default chain</h2>
<form method="post" action="/backends/chain">${csrfField(ctx.session)}
${field('Backends in order', 'chain', { value: settings.auth.backends.join(', '), hint: 'the next is asked when one is down or does not know the user' })}
<div class="actions"><button type="submit">Save chain</button></div></form>
<h2>Single-factor exceptions</h2>
<form method="post" action="/backends/exceptions">${csrfField(ctx.session)}
${field('Users', 'users', { value: settings.auth.single_factor.users.join(', '), hint: 'may log in with the password alone (service accounts); logged as single-factor' })}
${field('Groups', 'groups', { value: settings.auth.single_factor.groups.join(', ') })}
<div class="actions"><button type="submit">Save exceptions</button></div></form>
<h2>Add an LDAP / Active Directory backend</h2>
<form method="post" action="/backends/new/ldap">${csrfField(ctx.session)}<input type="hidden" name="_back" value="/backends">
${field('Name', 'name', { required: true, hint: 'lower-case letters, digits, - and _' })}${ldapFields({})}
<div class="actions"><button type="submit">Add LDAP backend</button></div></form>
<h2>Add an Entra ID backend</h2>
<form method="post" action="/backends/new/entra">${csrfField(ctx.session)}<input type="hidden" name="_back" value="/backends">
${field('Name', 'name', { required: true })}${entraFields({})}
<div class="actions"><button type="submit">Add Entra ID backend</button></div></form>`,
      );
    }),
  );

  app.post(
    '/backends/new/:type',
    ui.action((ctx) => {
      const type = ctx.params.type === 'entra' ? 'entra' : 'ldap';
      const name = formText(ctx.form, 'name');
      services.backends.save(fromForm(type, name, ctx.form), ctx.actor);
      ctx.session.flash.push({ kind: 'ok', text: `Backend ${name} added. Put it in a chain to use it.` });
      return { redirect: `/backends/${encodeURIComponent(name)}` };
    }),
  );

  app.post(
    '/backends/chain',
    ui.action((ctx) => {
      const chain = formText(ctx.form, 'chain').split(',').map((x) => x.trim()).filter(Boolean);
      const current = services.settings.get();
      services.settings.replace({ ...current, auth: { ...current.auth, backends: chain } }, ctx.actor);
      ctx.session.flash.push({ kind: 'ok', text: `Default chain: ${chain.join(' > ')}.` });
      return { redirect: '/backends' };
    }),
  );

  app.post(
    '/backends/exceptions',
    ui.action((ctx) => {
      const list = (n: string) => formText(ctx.form, n).split(',').map((x) => x.trim()).filter(Boolean);
      const current = services.settings.get();
      services.settings.replace({ ...current, auth: { ...current.auth, single_factor: { users: list('users'), groups: list('groups') } } }, ctx.actor);
      ctx.session.flash.push({ kind: 'ok', text: 'Single-factor exceptions saved.' });
      return { redirect: '/backends' };
    }),
  );

  app.get(
    '/backends/:name',
    ui.view((ctx) => {
      const b = services.backends.list().find((x) => x.name === ctx.params.name);
      if (!b || b.type === 'local') return { redirect: '/backends' };
      const base = `/backends/${encodeURIComponent(b.name)}`;
      return ui.render(
        ctx,
        `Backend ${b.name}`,
        '/backends',
        html`<form method="post" action="${base}/test" class="filters">${csrfField(ctx.session)}
${field('Look up this user (optional)', 'user')}
<div class="actions"><button type="submit">Test connection</button></div></form>
<form method="post" action="${base}">${csrfField(ctx.session)}<input type="hidden" name="_back" value="${base}">
${b.type === 'ldap' ? ldapFields(b) : entraFields(b)}
<div class="actions"><button type="submit">Save</button></div></form>
<div class="actions">${actionButton(ctx.session, `${base}/delete`, 'Delete backend', { danger: true, confirm: `Delete backend ${b.name}?` })}</div>`,
      );
    }),
  );

  app.post(
    '/backends/:name',
    ui.action((ctx) => {
      const current = services.backends.get(ctx.params.name!);
      if (current.type === 'local') return { redirect: '/backends' };
      services.backends.save(fromForm(current.type, current.name, ctx.form), ctx.actor, { replace: true });
      ctx.session.flash.push({ kind: 'ok', text: `Backend ${current.name} saved.` });
      return { redirect: `/backends/${encodeURIComponent(current.name)}` };
    }),
  );

  app.post(
    '/backends/:name/delete',
    ui.action((ctx) => {
      services.backends.remove(ctx.params.name!, ctx.actor);
      ctx.session.flash.push({ kind: 'ok', text: `Backend ${ctx.params.name} deleted.` });
      return { redirect: '/backends' };
    }),
  );

  // reading only, but it makes the node connect out: a POST with the CSRF token, like the other buttons
  app.post(
    '/backends/:name/test',
    ui.action(async (ctx) => {
      const name = ctx.params.name!;
      const report = await services.backends.test(name, formText(ctx.form, 'user') || undefined);
      return ui.render(
        ctx,
        `Test of ${name}`,
        '/backends',
        html`<p class="flash ${report.ok ? 'ok' : 'error'}" role="${report.ok ? 'status' : 'alert'}">${report.ok ? 'The connection test passed.' : 'The connection test FAILED.'}</p>
${dataTable('What the server answered', ['Step', 'Result', 'Detail'], report.steps.map((s) => [s.step, s.ok ? 'ok' : html`<span class="bad">failed</span>`, s.detail]))}
<p><a href="/backends/${encodeURIComponent(name)}">Back to ${name}</a></p>`,
      );
    }),
  );
}
