import type { FastifyInstance } from 'fastify';
import { html } from '../../web/html.js';
import { page } from '../layout.js';
import { field, problems } from '../../web/fields.js';
import { sameToken } from '../../web/sessions.js';
import { safeNext } from '../../web/safe-next.js';
import type { Ui } from '../ui.js';
import { SESSION_COOKIE } from '../ui.js';
import type { AdminSignIn } from '../sign-in.js';
import { COOKIE_OPTIONS, SignInToken } from '../../web/signin-token.js';
import { formOf, formText } from '../../web/form.js';

const SIGNIN_TOKEN = new SignInToken('__Host-otpgate-signin');

function signInForm(token: string, username: string, message: string | undefined, needCode: boolean, next: string) {
  return page(
    { title: 'Sign in' },
    html`${problems(message ? [message] : [])}
<form method="post" action="/login" class="signin">
<input type="hidden" name="_signin" value="${token}">
<input type="hidden" name="next" value="${next}">
${field('User name', 'username', { value: username, required: true, autocomplete: 'username' })}
${field('Password', 'password', { type: 'password', required: true, autocomplete: 'current-password' })}
${field('One-time code', 'code', {
  inputmode: 'numeric',
  autocomplete: 'one-time-code',
  pattern: '[0-9]{6,8}',
  hint: needCode ? 'This account has a token: enter its current code.' : 'Only if your admin account has an otpgate token.',
})}
<div class="actions"><button type="submit">Sign in</button></div>
</form>`,
  );
}

export function registerSignInPages(app: FastifyInstance, ui: Ui, signIn: AdminSignIn): void {
  app.get('/login', async (req, reply) => {
    if (await ui.sessionOf(req)) return reply.redirect('/', 303);
    // the sign-in form can only be posted from a page this browser loaded
    const token = SIGNIN_TOKEN.issue(reply);
    const next = safeNext((req.query as Record<string, string | undefined>).next);
    return ui.respond(reply, signInForm(token, '', undefined, false, next));
  });

  app.post('/login', async (req, reply) => {
    const form = formOf(req.body);
    const username = formText(form, 'username');
    const next = safeNext(formText(form, 'next'));
    if (!SIGNIN_TOKEN.matches(req, formText(form, '_signin'))) {
      return ui.deny(reply, 403, 'Request refused', 'The sign-in form expired or was not sent from this site. Open the sign-in page again.');
    }
    const outcome = await signIn.signIn(username, typeof form.password === 'string' ? form.password : '', formText(form, 'code'), req.ip);
    const actor = { name: username || '(empty)', source: req.ip };
    if (!outcome.ok) {
      const message = outcome.needCode ? 'This account needs a one-time code: enter the password and the current code.' : outcome.message;
      if (!outcome.needCode) ui.deps.audit.record(actor, 'admin.sign-in-failed', username, { details: { reason: outcome.detail } });
      return reply.code(outcome.needCode ? 200 : 401).type('text/html; charset=utf-8').send(signInForm(formText(form, '_signin'), username, message, outcome.needCode, next).value);
    }
    const session = ui.deps.sessions.create(outcome.admin, outcome.session, req.ip);
    ui.deps.audit.record({ name: outcome.admin, source: req.ip }, 'admin.sign-in', outcome.admin, { details: { kind: outcome.session.kind } });
    SIGNIN_TOKEN.clear(reply);
    reply.setCookie(SESSION_COOKIE, session.id, COOKIE_OPTIONS);
    return reply.redirect(next, 303);
  });

  app.post(
    '/logout',
    ui.view((ctx) => {
      // a sign-out is a state change too: it needs the session's CSRF token
      if (!sameToken(formText(ctx.form, '_csrf'), ctx.session.csrf)) return { redirect: '/' };
      ui.deps.sessions.destroy(ctx.session.id);
      ui.deps.audit.record(ctx.actor, 'admin.sign-out', ctx.session.subject);
      ctx.reply.clearCookie(SESSION_COOKIE, COOKIE_OPTIONS);
      return { redirect: '/login' };
    }),
  );
}
