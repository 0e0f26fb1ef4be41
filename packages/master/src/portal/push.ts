/**
 * The portal's push approval: a signed-in user sees the login that waits (which client, from which address, when) and
 * approves it, denies it, or says it was not theirs (which locks the account and alerts). Approving needs the user's
 * passkey (an assertion with user verification, its challenge bound to this session and this push) where the user
 * has one; otherwise the session's own second factor (password + code) stands. A link alone never approves: every
 * answer needs the session, its CSRF token, and the push must be the session user's.
 *
 * With number matching the page asks which number the login showed: a wrong pick denies the push.
 */
import { randomInt } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { InvalidInputError, formatTime } from '@otpgate/shared';
import type { PushRow, PushService, Services } from '@otpgate/core';
import { html, type Html } from '../web/html.js';
import { pageShell } from '../web/page.js';
import { problems } from '../web/fields.js';
import { sameToken, type Session } from '../web/sessions.js';
import { formText, type Form } from '../web/form.js';
import { acceptJsonBodies } from '../web/json-body.js';
import { ACCOUNT_COOKIE, type AccountData, type AccountState } from './account.js';

/** The approve-with-passkey button's script. */
const PUSH_SCRIPT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'assets', 'push.js');
/** How long a passkey approval's challenge waits for its answer. */
const APPROVAL_MS = 2 * 60_000;

export interface PushPortalDeps {
  services: Services;
  pushes: PushService;
  /** Whether the account must approve with a passkey even while it has none (settings.passkeys.required). */
  requiresPasskey(username: string): boolean;
}

function pushPage(title: string, body: Html, csrf?: string, passkey = false): Html {
  const head = html`${csrf ? html`<meta name="csrf" content="${csrf}">` : ''}${
    passkey ? html`<script src="/account/assets/webauthn.js" defer></script><script src="/account/assets/push.js" defer></script>` : ''
  }`;
  return pageShell({ title, tagline: 'Your account', head }, body);
}

/** Three numbers to pick from, the right one among them, in an order that says nothing. */
function numberChoices(number: string): string[] {
  const choices = new Set([number]);
  while (choices.size < 3) choices.add(String(randomInt(10, 100)));
  return [...choices].sort();
}

function describe(p: PushRow): Html {
  return html`<dl class="credential"><dt>Client</dt><dd>${p.client}</dd><dt>From address</dt><dd>${p.client_address || 'unknown'}</dd>
<dt>When</dt><dd>${formatTime(p.created_at)}</dd><dt>Waits until</dt><dd>${formatTime(p.expires_at)}</dd></dl>`;
}

/** The list on the account page: each waiting login, linked to its approval page. */
export function pendingPushesSection(deps: PushPortalDeps, username: string): Html {
  const user = deps.services.users.get(username);
  const pending = deps.pushes.pendingFor(user.id);
  if (pending.length === 0) return html``;
  return html`<h2>Logins waiting for you</h2><ul>${pending.map(
    (p) => html`<li><a href="/account/push/${p.id}">Login through ${p.client} from ${p.client_address || 'an unknown address'} at ${formatTime(p.created_at)}</a></li>`,
  )}</ul>`;
}

export function registerPushPages(app: FastifyInstance, deps: PushPortalDeps, state: AccountState): void {
  const { services, pushes } = deps;
  const webauthn = state.passkeys;
  const send = (reply: FastifyReply, page: Html, status = 200) => reply.code(status).type('text/html; charset=utf-8').send(page.value);
  const session = (req: FastifyRequest) => state.sessions.get(req.cookies[ACCOUNT_COOKIE]);
  const idOf = (req: FastifyRequest) => (req.params as { id: string }).id;
  const hasPasskey = (username: string) => webauthn !== undefined && services.passkeys.list(username).length > 0;

  const approvalPage = (s: Session<AccountData>, p: PushRow, message?: string) => {
    if (p.status !== 'pending' || p.expires_at <= Date.now()) {
      const said = p.status === 'approved' ? 'was approved' : p.status === 'pending' || p.status === 'timeout' ? 'waited too long and was refused' : 'was refused';
      return pushPage('Login answered', html`${problems(message ? [message] : [])}${describe(p)}<p>This login ${said}.</p><p><a href="/account">Back to your account</a></p>`);
    }
    const passkey = hasPasskey(s.subject);
    const pick = p.number
      ? html`<fieldset><legend>Which number does your login show?</legend>${numberChoices(p.number).map(
          (n, i) => html`<label for="push-number-${i}"><input type="radio" id="push-number-${i}" name="number" value="${n}" required> ${n}</label>`,
        )}</fieldset>`
      : '';
    const approve = passkey
      ? html`<button type="button" id="push-approve" data-push="${p.id}">Approve with your passkey</button>`
      : html`<button type="submit" formaction="/account/push/${p.id}/approve">Approve</button>`;
    return pushPage(
      'Approve this login?',
      html`${problems(message ? [message] : [])}<p>Someone is logging in as ${s.subject}. Approve only if it is you, now.</p>${describe(p)}
<form method="post" action="/account/push/${p.id}/deny"><input type="hidden" name="_csrf" value="${s.csrf}">${pick}
<div class="actions">${approve} <button type="submit" class="secondary">Deny</button>
<button type="submit" class="secondary" formaction="/account/push/${p.id}/not-me">This wasn't me</button></div></form>
<p id="push-status" role="status" aria-live="polite"></p><p><a href="/account">Back to your account</a></p>`,
      s.csrf,
      passkey,
    );
  };

  /** The signed-in user's push, or the reason to send them elsewhere. */
  const load = (req: FastifyRequest): { s: Session<AccountData>; p: PushRow } | 'signed-out' | 'unknown' => {
    const s = session(req);
    if (!s) return 'signed-out';
    const p = pushes.find(idOf(req), services.users.get(s.subject).id);
    return p ? { s, p } : 'unknown';
  };
  const notFound = (reply: FastifyReply) => send(reply, pushPage('No such login', html`<p>No login of yours waits under this link.</p><p><a href="/account">Back to your account</a></p>`), 404);

  /** Record the decision; the page says how it went. */
  const decide = (reply: FastifyReply, s: Session<AccountData>, p: PushRow, decision: 'approved' | 'denied' | 'not-me', source: string, note?: string) => {
    try {
      const row = pushes.decide(p.id, services.users.get(s.subject).id, decision, source);
      const said = decision === 'approved' ? 'Approved: your login goes on.' : decision === 'denied' ? 'Denied: the login is refused.' : 'Refused, and your account is locked: your administrator has been told.';
      return send(reply, pushPage('Login answered', html`${note ? html`<p>${note}</p>` : ''}<p>${said}</p>${describe(row)}<p><a href="/account">Back to your account</a></p>`));
    } catch (err) {
      if (err instanceof InvalidInputError) return send(reply, approvalPage(s, pushes.find(p.id, p.user_id) ?? p, err.message), 409);
      throw err;
    }
  };

  /** A form answer: the session, its CSRF token, and the push. */
  const formAnswer = (req: FastifyRequest, reply: FastifyReply, decision: 'approved' | 'denied' | 'not-me') => {
    const loaded = load(req);
    if (loaded === 'signed-out') return reply.redirect('/account', 303);
    if (loaded === 'unknown') return notFound(reply);
    const { s, p } = loaded;
    const form = (req.body ?? {}) as Form;
    if (!sameToken(formText(form, '_csrf'), s.csrf)) return send(reply, approvalPage(s, p, 'This form was not sent from this page: answer again.'), 403);
    if (decision === 'approved') {
      // a user with a passkey approves with it: the session alone (a password + code sign-in) is not enough
      if (hasPasskey(s.subject)) return send(reply, approvalPage(s, p, 'Approve with your passkey.'), 403);
      if (deps.requiresPasskey(s.subject)) return send(reply, approvalPage(s, p, 'Your account approves logins with a passkey: add one on your account page first.'), 403);
      if (p.number && formText(form, 'number') !== p.number) return decide(reply, s, p, 'denied', req.ip, 'That is not the number your login showed.');
    }
    return decide(reply, s, p, decision, req.ip);
  };

  app.get('/account/assets/push.js', (_req, reply) => reply.type('text/javascript').header('cache-control', 'max-age=3600').send(readFileSync(PUSH_SCRIPT)));

  app.get('/account/push/:id', (req, reply) => {
    const loaded = load(req);
    // signing in shows the waiting logins on the account page
    if (loaded === 'signed-out') return reply.redirect('/account', 303);
    if (loaded === 'unknown') return notFound(reply);
    return send(reply, approvalPage(loaded.s, loaded.p));
  });
  app.post('/account/push/:id/approve', (req, reply) => formAnswer(req, reply, 'approved'));
  app.post('/account/push/:id/deny', (req, reply) => formAnswer(req, reply, 'denied'));
  app.post('/account/push/:id/not-me', (req, reply) => formAnswer(req, reply, 'not-me'));

  // approving with a passkey: JSON calls with the CSRF token in a header
  void app.register(async (scope) => {
    acceptJsonBodies(scope);
    const jsonLoad = (req: FastifyRequest, reply: FastifyReply) => {
      const loaded = load(req);
      if (loaded === 'signed-out') return void reply.code(401).send({ error: 'your session ended: sign in again' });
      if (loaded === 'unknown') return void reply.code(404).send({ error: 'no such login waits for you' });
      if (!sameToken(req.headers['x-csrf-token'] as string | undefined, loaded.s.csrf)) return void reply.code(403).send({ error: 'this request was not sent from this page' });
      return loaded;
    };

    scope.post('/account/push/:id/options', async (req, reply) => {
      const loaded = jsonLoad(req, reply);
      if (!loaded || !webauthn) return webauthn ? reply : reply.code(404).send({ error: 'passkeys are not set up on this server' });
      const options = await webauthn.authenticationOptions(services.passkeys.list(loaded.s.subject));
      options.userVerification = 'required';
      loaded.s.data.pushApproval = { challenge: options.challenge, pushId: loaded.p.id, expires: Date.now() + APPROVAL_MS };
      return reply.send(options);
    });

    scope.post('/account/push/:id/passkey', async (req, reply) => {
      const loaded = jsonLoad(req, reply);
      if (!loaded || !webauthn) return webauthn ? reply : reply.code(404).send({ error: 'passkeys are not set up on this server' });
      const { s, p } = loaded;
      const pending = s.data.pushApproval;
      // single use, whatever comes of it
      delete s.data.pushApproval;
      if (pending?.pushId !== p.id || pending.expires <= Date.now()) return reply.code(400).send({ error: 'the approval expired: start again' });
      const body = (req.body ?? {}) as { response?: unknown; number?: unknown };
      const response = webauthn.parseAuthentication(body.response);
      const passkey = typeof response === 'string' ? undefined : services.passkeys.find(response.id);
      const userId = services.users.get(s.subject).id;
      const verified =
        typeof response === 'string' || passkey?.user_id !== userId
          ? 'not one of your passkeys'
          : await webauthn.verifyAuthentication(response, pending.challenge, passkey, true).catch((err: Error) => err.message);
      if (typeof verified === 'string') {
        return reply.code(401).send({ error: `the passkey did not confirm it is you (${verified})` });
      }
      services.passkeys.recordUse(passkey!.id, verified.counter);
      const wrongNumber = p.number !== null && body.number !== p.number;
      try {
        pushes.decide(p.id, userId, wrongNumber ? 'denied' : 'approved', req.ip);
      } catch (err) {
        if (err instanceof InvalidInputError) return reply.code(409).send({ error: err.message });
        throw err;
      }
      return reply.send({ next: `/account/push/${p.id}`, approved: !wrongNumber });
    });
  });
}
