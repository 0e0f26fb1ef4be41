import type { FastifyInstance } from 'fastify';
import { InvalidInputError } from '@otpgate/shared';
import { BUILTIN_ADMIN, adminStamp } from '@otpgate/core';
import { html } from '../../web/html.js';
import { dataTable, formatTime } from '../layout.js';
import { csrfField, field } from '../../web/fields.js';
import type { AdminSession } from '../sign-in.js';
import type { Ui} from '../ui.js';
import { SESSION_COOKIE, type PageContext } from '../ui.js';
import { COOKIE_OPTIONS } from '../../web/signin-token.js';
import { formText, rawText } from '../../web/form.js';

/** The built-in admin account manages the other accounts (as `otpgate admin list|set-password NAME` does). */
function managesAdmins(session: AdminSession): boolean {
  return session.data.kind === 'local' && session.subject === BUILTIN_ADMIN;
}

function newPassword(ctx: PageContext): string {
  const password = rawText(ctx.form, 'new_password');
  if (!password) throw new InvalidInputError('enter the new password', 'new password');
  if (password !== rawText(ctx.form, 'new_password_again')) throw new InvalidInputError('the two new passwords differ', 'new password');
  return password;
}

/**
 * The signed-in admin's own account: the password of a built-in account (argon2id, replicated), and for the built-in
 * "admin" the list of admin accounts and their passwords. Directory admins change their password in the directory.
 */
export function registerAccountPages(app: FastifyInstance, ui: Ui): void {
  const { services, sessions, guard } = ui.deps;

  app.get(
    '/account',
    ui.view((ctx) => {
      const s = ctx.session;
      const local = s.data.kind === 'local';
      const me = local ? services.admins.find(s.subject) : undefined;
      const directory = services.settings.get().admin;
      return ui.render(
        ctx,
        'Your account',
        '/account',
        html`${dataTable('Account', ['Item', 'Value'], [
          ['Admin', s.subject],
          ['Kind', local ? 'built-in otpgate account' : `directory account (backend ${directory.directory_backend || '-'}, group ${directory.directory_group || '-'})`],
          ...(me ? [['Password changed', formatTime(me.updated_at)]] : []),
          ['Signed in', `${formatTime(s.createdAt)} from ${s.address}`],
        ])}
<h2>Password</h2>
${local
  ? html`<p>After the change every other session of <strong>${s.subject}</strong> ends; this one goes on.</p>
<form method="post" action="/account/password">${csrfField(s)}<input type="hidden" name="_back" value="/account">
${field('Current password', 'current_password', { type: 'password', required: true, autocomplete: 'current-password' })}
${field('New password', 'new_password', { type: 'password', required: true, autocomplete: 'new-password' })}
${field('New password again', 'new_password_again', { type: 'password', required: true, autocomplete: 'new-password' })}
<div class="actions"><button type="submit">Change password</button></div></form>`
  : html`<p>You signed in with your directory account, so its password belongs to the directory: change it there
(for example in Active Directory or Microsoft Entra). otpgate cannot change a directory password here.</p>`}
${managesAdmins(s)
  ? html`<h2>Admin accounts</h2>
${dataTable('Admin accounts', ['Admin', 'Created', 'Password changed'], services.admins.list().map((a) => [a.username, formatTime(a.created_at), formatTime(a.updated_at)]))}
<form method="post" action="/account/admins">${csrfField(s)}<input type="hidden" name="_back" value="/account">
${field('Admin account', 'username', { required: true, autocomplete: 'off', hint: 'an account above, or a new one to create' })}
${field('Its new password', 'new_password', { type: 'password', required: true, autocomplete: 'new-password' })}
${field('Its new password again', 'new_password_again', { type: 'password', required: true, autocomplete: 'new-password' })}
<div class="actions"><button type="submit">Set the password</button></div></form>
<p>Their sessions end when the password is set.</p>`
  : ''}`,
      );
    }),
  );

  app.post(
    '/account/password',
    ui.action(async (ctx) => {
      const s = ctx.session;
      if (s.data.kind !== 'local') throw new InvalidInputError('you signed in with a directory account: change its password in the directory');
      const next = newPassword(ctx);
      // a stolen session must not be a way to guess the password: throttled and counted like a sign-in
      const refused = guard.refuse(s.subject, ctx.req.ip);
      if (refused) throw new InvalidInputError(refused);
      if (!(await services.admins.verify(s.subject, rawText(ctx.form, 'current_password')))) {
        guard.failed(s.subject);
        throw new InvalidInputError('the current password is not right; nothing was changed');
      }
      guard.succeeded(s.subject);
      const record = await services.admins.setPassword(s.subject, next, ctx.actor);
      // every session of this admin ends at its next request (its stamp is old); this browser gets a new one at once
      sessions.destroy(s.id);
      const fresh = sessions.create(s.subject, { kind: 'local', stamp: adminStamp(record) }, ctx.req.ip);
      ctx.reply.setCookie(SESSION_COOKIE, fresh.id, COOKIE_OPTIONS);
      fresh.flash.push({ kind: 'ok', text: 'Password changed. Your other sessions have ended; sign in there with the new password.' });
      return { redirect: '/account' };
    }),
  );

  app.post(
    '/account/admins',
    ui.action(async (ctx) => {
      if (!managesAdmins(ctx.session)) throw new InvalidInputError(`only the built-in "${BUILTIN_ADMIN}" account sets other admins' passwords`);
      const name = formText(ctx.form, 'username');
      if (!name) throw new InvalidInputError('enter the admin account', 'admin account');
      if (name === ctx.session.subject) throw new InvalidInputError('for your own password use the form above: it asks for the current one');
      const created = services.admins.find(name) === undefined;
      // their sessions end at their next request: the account's stamp changes with the password
      await services.admins.setPassword(name, newPassword(ctx), ctx.actor);
      ctx.session.flash.push({ kind: 'ok', text: created ? `Admin account ${name} created.` : `Password of admin ${name} set; their sessions have ended.` });
      return { redirect: '/account' };
    }),
  );
}
