import type { FastifyInstance } from 'fastify';
import QRCode from 'qrcode';
import { AUTH_MODES, InvalidInputError, type AuthMode } from '@otpgate/shared';
import { parseAttributeLines, type UserListQuery } from '@otpgate/core';
import { html, trusted } from '../../web/html.js';
import { actionButton, dataTable, formatTime } from '../layout.js';
import { checkbox, csrfField, field, select, textarea } from '../../web/fields.js';
import type { Ui} from '../ui.js';
import { type PageContext } from '../ui.js';
import { formChecked, formText } from '../../web/form.js';

const PAGE_SIZE = 50;
/** Serials offered as suggestions when assigning a hardware token; an inventory can hold thousands. */
const SPARE_SUGGESTIONS = 200;
const MODE_CHOICES: ReadonlyArray<readonly [string, string]> = [['', 'default'], ...AUTH_MODES.map((m) => [m, m] as const)];

function userUrl(name: string): string {
  return `/users/${encodeURIComponent(name)}`;
}

function modeOf(text: string): AuthMode | null {
  return text === '' ? null : (AUTH_MODES.find((m) => m === text) ?? null);
}

function listQuery(q: PageContext['query']): UserListQuery & { page: number } {
  const page = Math.max(1, Number(q.page ?? 1) || 1);
  const yesNo = (v: string | undefined) => (v === 'yes' ? true : v === 'no' ? false : undefined);
  return {
    search: q.q || undefined,
    group: q.group || undefined,
    status: q.status === 'active' || q.status === 'disabled' ? q.status : undefined,
    hasToken: yesNo(q.token),
    locked: yesNo(q.locked),
    offset: (page - 1) * PAGE_SIZE,
    limit: PAGE_SIZE,
    page,
  };
}

/** Users: list with search and filters, the user page, and every action the CLI has. */
export function registerUserPages(app: FastifyInstance, ui: Ui): void {
  const { services } = ui.deps;

  app.get(
    '/users',
    ui.view((ctx) => {
      const query = listQuery(ctx.query);
      const { total, users } = services.users.list(query);
      const groups = services.groups.list();
      const q = ctx.query;
      const pages = Math.max(1, Math.ceil(total / PAGE_SIZE));
      const link = (page: number) => `/users?${new URLSearchParams({ ...Object.fromEntries(Object.entries(q).filter(([, v]) => v) as Array<[string, string]>), page: String(page) })}`;
      return ui.render(
        ctx,
        'Users',
        '/users',
        html`<form method="get" action="/users" class="filters" role="search">
${field('Search', 'q', { value: q.q ?? '', hint: 'user name, display name or e-mail' })}
${select('Group', 'group', [['', 'any'], ...groups.map((g) => [g.name, g.name] as const)], q.group)}
${select('Status', 'status', [['', 'any'], ['active', 'active'], ['disabled', 'disabled']], q.status)}
${select('Has a token', 'token', [['', 'any'], ['yes', 'yes'], ['no', 'no']], q.token)}
${select('Locked', 'locked', [['', 'any'], ['yes', 'yes'], ['no', 'no']], q.locked)}
<div class="actions"><button type="submit">Filter</button></div>
</form>
<p><a href="/users/new">Add a user</a> · <a href="/export/users.csv">Export every user as CSV</a> (no secrets) · <a href="/imports">Import users or tokens</a></p>
${dataTable(`Users (${total})`, ['User', 'Display name', 'Status', 'Tokens', 'Groups', 'Locked until'], users.map((u) => [
  html`<a href="${userUrl(u.username)}">${u.username}</a>`,
  u.display_name,
  u.status,
  String(u.tokens),
  u.groups.join(', '),
  u.locked_until && u.locked_until > Date.now() ? formatTime(u.locked_until) : '',
]))}
<nav class="pager" aria-label="Pages">${query.page > 1 ? html`<a href="${link(query.page - 1)}" rel="prev">Previous</a>` : ''}
<span>Page ${query.page} of ${pages}</span>${query.page < pages ? html`<a href="${link(query.page + 1)}" rel="next">Next</a>` : ''}</nav>`,
      );
    }),
  );

  app.get(
    '/users/new',
    ui.view((ctx) =>
      ui.render(
        ctx,
        'Add a user',
        '/users',
        html`<form method="post" action="/users">${csrfField(ctx.session)}<input type="hidden" name="_back" value="/users/new">
${field('User name', 'username', { required: true, autocomplete: 'off' })}
${field('Display name', 'display_name')}
${field('E-mail', 'email', { type: 'email' })}
${field('Local password', 'password', { type: 'password', autocomplete: 'new-password', hint: 'Leave empty when a directory checks the password (LDAP, Entra ID).' })}
${field('Groups', 'groups', { hint: 'separated by commas' })}
${select('Login mode', 'auth_mode', MODE_CHOICES, '')}
<div class="actions"><button type="submit">Add user</button></div></form>`,
      ),
    ),
  );

  app.post(
    '/users',
    ui.action(async (ctx) => {
      const f = ctx.form;
      const record = await services.users.add(
        {
          username: formText(f, 'username'),
          display_name: formText(f, 'display_name'),
          email: formText(f, 'email'),
          password: typeof f.password === 'string' && f.password !== '' ? f.password : null,
          groups: formText(f, 'groups').split(',').map((g) => g.trim()).filter(Boolean),
          auth_mode: modeOf(formText(f, 'auth_mode')),
        },
        ctx.actor,
      );
      ctx.session.flash.push({ kind: 'ok', text: `User ${record.username} added. Give them a token below.` });
      return { redirect: userUrl(record.username) };
    }),
  );

  app.get(
    '/users/:name',
    ui.view((ctx) => {
      const u = services.users.summary(ctx.params.name!);
      const tokens = services.tokens.list(u.username);
      const passkeys = services.passkeys.list(u.username);
      const recent = services.authLog.list({ user: u.username, limit: 20 });
      const base = userUrl(u.username);
      const locked = u.locked_until !== null && u.locked_until > Date.now();
      const spare = services.tokens.listHardware({ assigned: false, limit: SPARE_SUGGESTIONS });
      return ui.render(
        ctx,
        `User ${u.username}`,
        '/users',
        html`${dataTable('Account', ['Item', 'Value'], [
          ['Display name', u.display_name || '-'],
          ['E-mail', u.email || '-'],
          ['Status', html`<span class="${u.status === 'active' ? 'good' : 'bad'}">${u.status}</span>`],
          ['Local password', u.has_password ? 'set' : 'none'],
          ['Login mode', u.auth_mode ?? 'default'],
          ['Groups', u.groups.join(', ') || '-'],
          ['Lockout', locked ? html`<span class="bad">locked until ${formatTime(u.locked_until)}</span>` : `${u.failures} recent failures`],
          ['Initial login allowed until', formatTime(u.initial_login_until)],
        ])}
<div class="actions">
${u.status === 'active' ? actionButton(ctx.session, `${base}/disable`, 'Disable') : actionButton(ctx.session, `${base}/enable`, 'Enable')}
${locked || u.failures > 0 ? actionButton(ctx.session, `${base}/unlock`, 'Unlock') : ''}
${actionButton(ctx.session, `${base}/delete`, 'Delete user', { danger: true, confirm: `Delete ${u.username} and their tokens?` })}
</div>
<h2>Tokens</h2>
${dataTable('Tokens', ['Id', 'Type', 'Digits', 'Serial', 'Label', 'Active', 'Window', 'Actions'], tokens.map((t) => [
  String(t.id),
  `${t.kind.toUpperCase()} ${t.algorithm}`,
  String(t.digits),
  t.serial ?? '-',
  t.label,
  t.active ? 'yes' : 'no',
  t.window_past === null && t.window_future === null ? 'default' : `-${t.window_past ?? 'd'} / +${t.window_future ?? 'd'}`,
  html`${t.active ? actionButton(ctx.session, `/tokens/${t.id}/disable`, 'Disable') : actionButton(ctx.session, `/tokens/${t.id}/enable`, 'Enable')}
  ${actionButton(ctx.session, `/tokens/${t.id}/remove`, 'Revoke', { danger: true, confirm: 'Revoke this token?' })}
  <a href="/tokens/${t.id}">Resync, window, replay</a>`,
]))}
<form method="post" action="${base}/tokens">${csrfField(ctx.session)}
${select('New token', 'kind', [['totp', 'TOTP (authenticator app)'], ['hotp', 'HOTP (counter)']], 'totp')}
${field('Label', 'label', { placeholder: 'e.g. iPhone' })}
<div class="actions"><button type="submit">Add a token (shows its QR code once)</button></div></form>
${spare.length > 0
  ? html`<form method="post" action="${base}/assign">${csrfField(ctx.session)}<input type="hidden" name="_back" value="${base}">
${field('Serial of a hardware token from the inventory', 'serial', { required: true, autocomplete: 'off', list: 'spare-hardware', hint: 'an unassigned token; the list suggests some' })}
<datalist id="spare-hardware">${spare.map((h) => html`<option value="${h.serial}">${`${h.manufacturer} ${h.model}`.trim()}</option>`)}</datalist>
<div class="actions"><button type="submit">Assign</button></div></form>`
  : html`<p class="empty">No unassigned hardware tokens in the inventory.</p>`}
<h2>Passkeys and security keys</h2>
${dataTable('Passkeys and security keys', ['Label', 'Signs in', 'Counter', 'Registered', 'Last used', 'Actions'], passkeys.map((p) => [
  p.label,
  p.passwordless ? 'alone (passkey)' : 'after the password',
  String(p.counter),
  formatTime(p.created_at),
  formatTime(p.last_used_at),
  actionButton(ctx.session, `${base}/passkeys/remove`, 'Remove', { danger: true, confirm: `Remove "${p.label}"? It signs in nowhere from now on.`, fields: { id: p.id } }),
]))}
<p>Users register these on the user portal. Remove a lost or stolen one here.</p>
<h2>Edit</h2>
<form method="post" action="${base}">${csrfField(ctx.session)}
${field('Display name', 'display_name', { value: u.display_name })}
${field('E-mail', 'email', { type: 'email', value: u.email })}
${field('Groups', 'groups', { value: u.groups.join(', '), hint: 'separated by commas' })}
${select('Login mode', 'auth_mode', MODE_CHOICES, u.auth_mode ?? '')}
${textarea('Reply attributes', 'attributes', u.attributes.map((a) => `${a.name}=${a.value}`).join('\n'), { rows: 4, hint: 'one Name=value per line, e.g. Filter-Id=vpn or Fortinet-Group-Name=staff' })}
${field('Initial login allowed until', 'initial_login_until', { type: 'date', value: u.initial_login_until ? new Date(u.initial_login_until).toISOString().slice(0, 10) : '', hint: 'password alone until this day, to enrol; empty: the global allowance' })}
<div class="actions"><button type="submit">Save</button></div></form>
<h2>Local password</h2>
<form method="post" action="${base}/password">${csrfField(ctx.session)}
${field('New local password', 'password', { type: 'password', autocomplete: 'new-password' })}
${checkbox('Remove the local password instead', 'clear', false)}
<div class="actions"><button type="submit">Set password</button></div></form>
<h2>Recent authentications</h2>
${dataTable('Recent authentications', ['Time', 'Client', 'NAS-IP', 'Result', 'Reason', 'Backend'], recent.map((r) => [formatTime(r.at), r.client, r.nas_ip, r.policy ? `${r.result} (${r.policy})` : r.result, r.reason ?? '', r.backend ?? '']))}`,
      );
    }),
  );

  app.post(
    '/users/:name',
    ui.action((ctx) => {
      const f = ctx.form;
      const until = formText(f, 'initial_login_until');
      const record = services.users.update(
        ctx.params.name!,
        {
          display_name: formText(f, 'display_name'),
          email: formText(f, 'email'),
          groups: formText(f, 'groups').split(',').map((g) => g.trim()).filter(Boolean),
          auth_mode: modeOf(formText(f, 'auth_mode')),
          attributes: parseAttributeLines(formText(f, 'attributes')),
          initial_login_until: until ? Date.parse(`${until}T23:59:59Z`) : null,
        },
        ctx.actor,
      );
      ctx.session.flash.push({ kind: 'ok', text: `User ${record.username} saved.` });
      return { redirect: userUrl(record.username) };
    }),
  );

  const simple = (path: string, run: (name: string, ctx: PageContext) => void | Promise<void>, done: string, back: (name: string) => string) =>
    app.post(
      `/users/:name/${path}`,
      ui.action(async (ctx) => {
        const name = ctx.params.name!;
        await run(name, ctx);
        ctx.session.flash.push({ kind: 'ok', text: `${name}: ${done}.` });
        return { redirect: back(name) };
      }),
    );
  simple('disable', (n, c) => services.users.setStatus(n, 'disabled', c.actor), 'disabled', userUrl);
  simple('enable', (n, c) => services.users.setStatus(n, 'active', c.actor), 'enabled', userUrl);
  simple('unlock', (n, c) => services.users.unlock(n, c.actor), 'unlocked', userUrl);
  simple('delete', (n, c) => services.users.remove(n, c.actor), 'deleted', () => '/users');
  simple(
    'password',
    async (n, c) => {
      const password = typeof c.form.password === 'string' ? c.form.password : '';
      if (formChecked(c.form, 'clear')) await services.users.setPassword(n, null, c.actor);
      else if (password) await services.users.setPassword(n, password, c.actor);
      else throw new InvalidInputError('enter a password, or tick "remove"', 'password');
    },
    'local password changed',
    userUrl,
  );
  simple('assign', (n, c) => void services.tokens.assign(formText(c.form, 'serial'), n, c.actor), 'hardware token assigned', userUrl);
  simple('passkeys/remove', (n, c) => services.passkeys.remove(n, formText(c.form, 'id'), c.actor), 'passkey removed', userUrl);

  // a new token: its secret is shown on this answer only (no-store), never again
  app.post(
    '/users/:name/tokens',
    ui.action(async (ctx) => {
      const name = ctx.params.name!;
      const kind = formText(ctx.form, 'kind') === 'hotp' ? 'hotp' : 'totp';
      const { token, uri } = services.tokens.add(name, { kind, label: formText(ctx.form, 'label') || undefined }, ctx.actor);
      const svg = await QRCode.toString(uri, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 });
      const secret = new URL(uri).searchParams.get('secret') ?? '';
      return ui.render(
        ctx,
        `New token for ${name}`,
        '/users',
        html`<p class="flash ok" role="status">Token ${token.id} added. Scan the QR code with an authenticator app now: this page is the only time the secret is shown.</p>
<figure class="qr">${trusted(svg)}<figcaption>QR code of the token's otpauth URI</figcaption></figure>
<p>Manual key: <span class="secret" id="manual-key">${secret}</span> <button type="button" class="secondary" data-copy="manual-key">Copy</button></p>
<p>URI: <span class="secret" id="otpauth-uri">${uri}</span></p>
<p><a href="${userUrl(name)}">Back to ${name}</a></p>`,
      );
    }),
  );

  app.get(
    '/tokens/:id',
    ui.view((ctx) => {
      const t = services.tokens.get(Number(ctx.params.id));
      return ui.render(
        ctx,
        `Token ${t.id} of ${t.username}`,
        '/users',
        html`<h2>Resynchronise</h2>
<form method="post" action="/tokens/${t.id}/resync">${csrfField(ctx.session)}<input type="hidden" name="_back" value="/tokens/${t.id}">
${field('First code', 'code1', { required: true, inputmode: 'numeric', autocomplete: 'off' })}
${field('Next code', 'code2', { required: true, inputmode: 'numeric', autocomplete: 'off', hint: 'two codes in a row, as the token shows them' })}
<div class="actions"><button type="submit">Resynchronise</button></div></form>
<h2>Acceptance window</h2>
<form method="post" action="/tokens/${t.id}/window">${csrfField(ctx.session)}<input type="hidden" name="_back" value="/tokens/${t.id}">
${field('Steps before now', 'window_past', { value: t.window_past ?? '', inputmode: 'numeric', hint: 'empty: the global setting' })}
${field('Steps after now', 'window_future', { value: t.window_future ?? '', inputmode: 'numeric', hint: 'empty: the global setting' })}
<div class="actions"><button type="submit">Save window</button></div></form>
<h2>Replay protection</h2>
<p>Last used time step: ${t.last_step < 0 ? 'none' : String(t.last_step)}. Codes up to it are refused as replays on every node. Reset when a step far ahead makes every code a replay; codes used within the current window become usable once more.</p>
${actionButton(ctx.session, `/tokens/${t.id}/reset-replay`, 'Reset replay state', { confirm: 'Forget the codes this token used, on every node?' })}
<p><a href="${userUrl(t.username)}">Back to ${t.username}</a></p>`,
      );
    }),
  );

  const tokenAction = (path: string, run: (id: number, ctx: PageContext) => void, done: string) =>
    app.post(
      `/tokens/:id/${path}`,
      ui.action((ctx) => {
        const id = Number(ctx.params.id);
        // read before the action: a revoked token is gone afterwards
        const owner = services.tokens.get(id).username;
        run(id, ctx);
        ctx.session.flash.push({ kind: 'ok', text: `Token ${id}: ${done}.` });
        return { redirect: userUrl(owner) };
      }),
    );
  tokenAction('disable', (id, c) => services.tokens.setActive(id, false, c.actor), 'disabled');
  tokenAction('enable', (id, c) => services.tokens.setActive(id, true, c.actor), 'enabled');
  tokenAction('remove', (id, c) => services.tokens.remove(id, c.actor), 'revoked');
  tokenAction('reset-replay', (id, c) => services.tokens.resetReplay(id, c.actor), 'replay state reset on every node');
  tokenAction('resync', (id, c) => services.tokens.resync(id, formText(c.form, 'code1'), formText(c.form, 'code2'), c.actor), 'resynchronised');
  tokenAction(
    'window',
    (id, c) => {
      const n = (name: string) => (formText(c.form, name) === '' ? null : Number(formText(c.form, name)));
      services.tokens.setWindow(id, n('window_past'), n('window_future'), c.actor);
    },
    'window saved',
  );
}
