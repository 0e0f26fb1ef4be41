import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import QRCode from 'qrcode';
import {
  createAuthPorts,
  fromBase32,
  generateSecret,
  portalSignIn,
  provisioningUri,
  toBase32,
  verifyCode,
  type AdminAuditService,
  type EnrolmentGrant,
  type NewToken,
  type OtpgateNode,
  type Services,
} from '@otpgate/core';
import { EnrolmentRefusedError, NotFoundError, type NodeConfig } from '@otpgate/shared';
import { html, trusted, type Html, type HtmlValue } from '../web/html.js';
import { csrfField, field, problems } from '../web/fields.js';
import { pageShell } from '../web/page.js';
import { sameToken, type Session, type SessionStore } from '../web/sessions.js';
import type { SignInGuard } from '../web/signin-guard.js';
import { COOKIE_OPTIONS, SignInToken } from '../web/signin-token.js';
import { formOf, formText } from '../web/form.js';

export const PORTAL_COOKIE = '__Host-otpgate-enroll';
const SIGNIN_TOKEN = new SignInToken('__Host-otpgate-enroll-signin');

/**
 * What a portal session holds: the new secret, made at sign-in and activated only by a correct code, and what the
 * sign-in allowed (checked again when the token is added).
 */
export interface PortalData {
  secretBase32: string;
  grant: EnrolmentGrant;
}

export interface PortalDeps {
  node: OtpgateNode;
  services: Services;
  config: NodeConfig;
  sessions: SessionStore<PortalData>;
  guard: SignInGuard;
  audit: AdminAuditService;
}

/** A small phone-first page: no navigation, one task. */
function portalPage(title: string, body: HtmlValue): Html {
  return pageShell({ title, tagline: 'Set up your login code' }, body);
}

/** A refused request, with why. */
export function refusedPortalPage(title: string, text: string): Html {
  return portalPage(title, html`<p class="flash error" role="alert">${text}</p>`);
}

/**
 * Every refused sign-in gets this one answer, whatever the reason (which goes to the log): telling "you already have
 * a token" or "your time has passed" only after the right password would confirm the password without any code.
 */
const REFUSED = 'Wrong user name, password or code, or this account cannot set up a token here. If you are sure of your password, ask your administrator.';

/**
 * The self-service enrollment portal: a user signs in with their password (through the same backends, lockout and
 * allowance as RADIUS), sees a new token's QR code and key, and the token becomes active only when they type a
 * current code from it. Works without JavaScript; every step is audited; the secret is made here (160 bits or more)
 * and shown once.
 */
export function registerPortal(app: FastifyInstance, deps: PortalDeps): void {
  const { node, services } = deps;
  const ports = createAuthPorts({ repository: node.repository, backends: node.backends, metrics: node.metrics, logger: node.logger, settings: () => node.settings });
  const send = (reply: FastifyReply, page: Html, status = 200) => reply.code(status).type('text/html; charset=utf-8').send(page.value);
  const session = (req: FastifyRequest) => deps.sessions.get(req.cookies[PORTAL_COOKIE]);

  const signInPage = (token: string, message?: string, username = '') =>
    portalPage(
      'Sign in',
      html`<p>Sign in with your usual user name and password to set up the code for your logins.</p>${problems(message ? [message] : [])}
<form method="post" action="/sign-in">
<input type="hidden" name="_signin" value="${token}">
${field('User name', 'username', { value: username, required: true, autocomplete: 'username' })}
${field('Password', 'password', { type: 'password', required: true, autocomplete: 'current-password' })}
${field('Current code', 'code', { inputmode: 'numeric', autocomplete: 'one-time-code', hint: 'Only if you already have a token and add another.' })}
<div class="actions"><button type="submit">Sign in</button></div></form>`,
    );

  const refusedPage = (text: string) => refusedPortalPage('Request refused', text);

  // the sign-in form can only be posted from a page this browser loaded
  app.get('/', (req, reply) => (session(req) ? reply.redirect('/enroll', 303) : send(reply, signInPage(SIGNIN_TOKEN.issue(reply)))));

  app.post('/sign-in', async (req, reply) => {
    const form = formOf(req.body);
    const token = formText(form, '_signin');
    if (!SIGNIN_TOKEN.matches(req, token)) {
      return send(reply, refusedPage('The sign-in form expired or was not sent from this site. Open the sign-in page again.'), 403);
    }
    const username = formText(form, 'username');
    const actor = { name: username || '(empty)', source: req.ip };
    const refused = deps.guard.refuse(username, req.ip);
    if (refused) return send(reply, signInPage(token, refused, username), 429);
    const outcome = await portalSignIn(
      { username, password: typeof form.password === 'string' ? form.password : '', code: formText(form, 'code') },
      ports,
    );
    if (!outcome.ok) {
      deps.audit.record(actor, 'enroll.sign-in-failed', username, { details: { reason: outcome.reason, detail: outcome.detail } });
      return send(reply, signInPage(token, REFUSED, username), 401);
    }
    const { grant } = outcome;
    const algorithm = node.settings.otp.algorithm;
    const s = deps.sessions.create(outcome.user.username, { secretBase32: toBase32(generateSecret(algorithm)), grant }, req.ip);
    deps.audit.record({ name: outcome.user.username, source: req.ip }, 'enroll.sign-in', outcome.user.username, { details: { additional: grant.additional } });
    SIGNIN_TOKEN.clear(reply);
    reply.setCookie(PORTAL_COOKIE, s.id, COOKIE_OPTIONS);
    return reply.redirect('/enroll', 303);
  });

  const enrollPage = async (s: Session<PortalData>, message?: string) => {
    const otp = node.settings.otp;
    const uri = provisioningUri({
      kind: 'totp',
      issuer: otp.issuer,
      account: s.subject,
      key: fromBase32(s.data.secretBase32),
      algorithm: otp.algorithm,
      digits: otp.digits,
      period: otp.period,
      counter: 0,
    });
    const svg = await QRCode.toString(uri, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 });
    return portalPage(
      'Scan this code',
      html`${problems(message ? [message] : [])}
<ol><li>Open an authenticator app on your phone (Google Authenticator, Microsoft Authenticator, FreeOTP...).</li>
<li>Add an account by scanning this QR code, or type the key below.</li>
<li>Enter the code the app shows, to confirm.</li></ol>
<figure class="qr">${trusted(svg)}<figcaption>QR code for ${s.subject}</figcaption></figure>
<p>Key: <span class="secret" id="manual-key">${s.data.secretBase32}</span> <button type="button" class="secondary" data-copy="manual-key">Copy</button></p>
<form method="post" action="/enroll">${csrfField(s)}
${field('Code from the app', 'code', { required: true, inputmode: 'numeric', autocomplete: 'one-time-code', pattern: '[0-9]{6,8}' })}
<div class="actions"><button type="submit">Confirm</button></div></form>
<form method="post" action="/sign-out">${csrfField(s)}<button type="submit" class="secondary">Cancel</button></form>`,
    );
  };

  app.get('/enroll', async (req, reply) => {
    const s = session(req);
    if (!s) return reply.redirect('/', 303);
    return send(reply, await enrollPage(s));
  });

  app.post('/enroll', async (req, reply) => {
    const s = session(req);
    const form = formOf(req.body);
    if (!s) return reply.redirect('/', 303);
    if (!sameToken(formText(form, '_csrf'), s.csrf)) return send(reply, refusedPage('This form was not sent from this page. Start again.'), 403);
    const otp = node.settings.otp;
    const pending = {
      id: 0, kind: 'totp' as const, algorithm: otp.algorithm, digits: otp.digits, period: otp.period, t0: 0,
      key: fromBase32(s.data.secretBase32), counter: 0, windowPast: otp.window_past, windowFuture: otp.window_future, lastStep: -1, drift: 0,
    };
    const check = verifyCode(pending, formText(form, 'code'), Date.now(), { hotpWindow: otp.hotp_window });
    const actor = { name: s.subject, source: req.ip };
    if (check.result !== 'match') {
      deps.audit.record(actor, 'enroll.confirm-failed', s.subject);
      return send(reply, await enrollPage(s, 'That code does not match. Check the app shows this account, then enter its current code.'), 400);
    }
    let added: NewToken;
    try {
      added = services.tokens.enrol(
        s.subject,
        s.data.grant,
        { secret: s.data.secretBase32, label: 'self-enrolled', usedStep: { step: check.step, drift: check.drift } },
        actor,
      );
    } catch (err) {
      if (!(err instanceof EnrolmentRefusedError || err instanceof NotFoundError)) throw err;
      // what the sign-in allowed no longer holds (another session added a token, an admin changed the account)
      deps.audit.record(actor, 'enroll.confirm-refused', s.subject, { details: { reason: err instanceof EnrolmentRefusedError ? err.reason : 'user-removed' } });
      deps.sessions.destroy(s.id);
      reply.clearCookie(PORTAL_COOKIE, COOKIE_OPTIONS);
      return send(
        reply,
        refusedPage('This token was not added: your account changed since you signed in (a token may have been set up in another window). Sign in again.'),
        409,
      );
    }
    deps.audit.record(actor, 'enroll.token-created', s.subject, { details: { token: added.token.id, additional: s.data.grant.additional } });
    deps.sessions.destroy(s.id);
    reply.clearCookie(PORTAL_COOKIE, COOKIE_OPTIONS);
    return send(
      reply,
      portalPage('Done', html`<p class="flash ok" role="status">Your token is active.</p><p>From now on, log in with your password followed by the code the app shows (for example <code>mypassword123456</code>).</p>`),
    );
  });

  app.post('/sign-out', (req, reply) => {
    const s = session(req);
    const form = formOf(req.body);
    if (s && sameToken(formText(form, '_csrf'), s.csrf)) deps.sessions.destroy(s.id);
    reply.clearCookie(PORTAL_COOKIE, COOKIE_OPTIONS);
    return reply.redirect('/', 303);
  });
}
