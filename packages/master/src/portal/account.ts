/**
 * The user portal's account pages, beside the enrollment pages on the same server: sign in with password + code, with
 * a passkey or with an identity provider (oidc.ts), register passkeys, and (after a passkey or SSO sign-in) get a
 * one-time VPN credential.
 *
 * A passkey is registered only from a session that passed a second factor (a current code, or a passkey): a stolen
 * password alone never adds one; nor does an SSO sign-in, unless the provider is marked as asking for MFA itself. Every WebAuthn challenge is single use and expires; a passwordless sign-in's
 * challenge waits in a bounded map under a cookie of its own, a registration's in the session.
 */
import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { BoundedMap, checkPasswordAndCode, createAuthPorts, passkeyRequired, passkeySignInMode, type AdminAuditService, type OtpgateNode, type Services, type VpnCredentialIssuer } from '@otpgate/core';
import { ConflictError, formatTime, type NodeConfig, type PasskeyRecord } from '@otpgate/shared';
import { html, type Html } from '../web/html.js';
import { dataTable } from '../admin/layout.js';
import { field, problems } from '../web/fields.js';
import { SessionStore, sameToken, type Session } from '../web/sessions.js';
import type { SignInGuard } from '../web/signin-guard.js';
import { formText, type Form } from '../web/form.js';
import { COOKIE_OPTIONS, SignInToken } from '../web/signin-token.js';
import { acceptJsonBodies } from '../web/json-body.js';
import { accountPage } from './page.js';
import { PasskeyCeremonies, userIdOfHandle } from './webauthn.js';
import { OidcProviders, registerOidc, ssoButtons, ssoIssuer, type SsoSignIn } from './oidc.js';
import { chosenClient, registerVpnDownloads, vpnConnectionChoice, vpnDownloads, type HeldCredential } from './vpn-profile.js';

export const ACCOUNT_COOKIE = '__Host-otpgate-account';
const SIGNIN_TOKEN = new SignInToken('__Host-otpgate-account-signin');
const CEREMONY_COOKIE = '__Host-otpgate-passkey';
/** How long a WebAuthn challenge may wait for its answer. */
const CEREMONY_MS = 5 * 60_000;
/** Passwordless sign-ins under way at once (each a cookie and a challenge); past that the oldest is dropped. */
const MAX_CEREMONIES = 10_000;
const ASSETS = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'assets');
/** The browser library's bundle is not in its package's exports: found from its main file. */
const WEBAUTHN_BUNDLE = join(dirname(createRequire(import.meta.url).resolve('@simplewebauthn/browser')), '..', 'dist', 'bundle', 'index.umd.min.js');

/** Same answer for every refused sign-in, whatever the reason (which goes to the log and the audit). */
const REFUSED = 'Wrong user name, password or code, or this account cannot sign in here. If you are sure of your password, ask your administrator.';

/** How the session's user proved who they are: the first two are two factors, an SSO sign-in as its provider says. */
export type SignInMethod = 'password+code' | 'passkey' | 'oidc';

export interface AccountData {
  method: SignInMethod;
  /** An SSO sign-in's provider. */
  sso?: SsoSignIn;
  /** A registration under way: its challenge, single use. */
  registration?: { challenge: string; expires: number };
  /** The one-time VPN credential last shown, for its helper downloads (vpn-profile.ts). */
  vpn?: HeldCredential;
  /** A push approval under way with a passkey: its challenge, single use, for that push only. */
  pushApproval?: { challenge: string; pushId: string; expires: number };
}

export interface AccountDeps {
  node: OtpgateNode;
  services: Services;
  config: NodeConfig;
  guard: SignInGuard;
  audit: AdminAuditService;
}

/** A passkey sign-in under way: passwordless (any user), or the second factor after `userId`'s password. */
interface Ceremony {
  challenge: string;
  userId?: number;
}

/** What every listen address's app shares: sessions and sign-ins under way. */
export interface AccountState {
  sessions: SessionStore<AccountData>;
  ceremonies: BoundedMap<string, Ceremony>;
  /** Absent while portal.rp_id / portal.origin are not set: no passkeys then. */
  passkeys: PasskeyCeremonies | undefined;
  /** Absent while portal.oidc lists no provider. */
  oidc: OidcProviders | undefined;
  /** The user's logins waiting for approval, shown on the account page (portal/push.ts). */
  pendingPushes?: (username: string) => Html;
}

/** How a VPN credential issued in this session is recorded, or undefined when the session may not have one. */
function vpnIssuer(data: AccountData): VpnCredentialIssuer | undefined {
  if (data.method === 'passkey') return 'passkey';
  return data.sso ? ssoIssuer(data.sso) : undefined;
}

/** Whether the session passed a second factor, as registering a passkey needs. */
function passedSecondFactor(data: AccountData): boolean {
  return data.sso ? data.sso.mfa : true;
}

export function createAccountState(deps: AccountDeps): AccountState {
  const minutes = deps.config.enrollment.session_minutes * 60_000;
  const { rp_id, origin } = deps.config.portal;
  return {
    sessions: new SessionStore<AccountData>({ name: 'account_sessions', idleMs: minutes, absoluteMs: minutes, meter: deps.node.metrics }),
    ceremonies: new BoundedMap({ name: 'passkey_ceremonies', maxEntries: MAX_CEREMONIES, maxAgeMs: CEREMONY_MS, meter: deps.node.metrics }),
    passkeys: rp_id && origin ? new PasskeyCeremonies({ id: rp_id, origin, name: deps.node.settings.otp.issuer }) : undefined,
    oidc: origin && deps.config.portal.oidc.length > 0 ? new OidcProviders(deps.config.portal.oidc, origin, deps.node.metrics) : undefined,
  };
}

export function registerAccount(app: FastifyInstance, deps: AccountDeps, state: AccountState): void {
  const { node, services } = deps;
  const ports = createAuthPorts({ repository: node.repository, backends: node.backends, metrics: node.metrics, logger: node.logger, settings: () => node.settings });
  const send = (reply: FastifyReply, page: Html, status = 200) => reply.code(status).type('text/html; charset=utf-8').send(page.value);
  const session = (req: FastifyRequest) => state.sessions.get(req.cookies[ACCOUNT_COOKIE]);
  const refuse = (reply: FastifyReply, status: number, error: string) => reply.code(status).send({ error });
  const webauthn = state.passkeys;

  const signInPage = (token: string, message?: string, username = '') =>
    accountPage(
      'Sign in',
      html`${problems(message ? [message] : [])}
${state.oidc ? ssoButtons(state.oidc) : ''}${webauthn ? html`<h2>With a passkey</h2><p><button type="button" id="passkey-sign-in" data-passkey hidden>Sign in with a passkey</button></p><p id="passkey-status" role="status" aria-live="polite"></p>` : ''}
<h2>With your password and code</h2>
<form method="post" action="/account/sign-in">
<input type="hidden" name="_signin" value="${token}">
${field('User name', 'username', { value: username, required: true, autocomplete: 'username' })}
${field('Password', 'password', { type: 'password', required: true, autocomplete: 'current-password' })}
${field('Current code', 'code', { required: true, inputmode: 'numeric', autocomplete: 'one-time-code', hint: 'The code your authenticator app shows now.' })}
<div class="actions"><button type="submit">Sign in</button>${webauthn ? html` <button type="button" id="security-key-sign-in" class="secondary" data-passkey hidden>Sign in with password and security key</button>` : ''}</div></form>`,
      { passkeys: webauthn !== undefined },
    );

  const startSession = (reply: FastifyReply, username: string, method: SignInMethod, address: string, sso?: SsoSignIn) => {
    const s = state.sessions.create(username, { method, sso }, address);
    deps.audit.record({ name: username, source: address }, 'portal.sign-in', username, { details: { method: sso ? ssoIssuer(sso) : method } });
    reply.setCookie(ACCOUNT_COOKIE, s.id, COOKIE_OPTIONS);
  };

  /** How a VPN password from this session is issued: after a passkey only, for an account that requires one. */
  const vpnIssuerFor = (s: Session<AccountData>): VpnCredentialIssuer | undefined => {
    const issuer = vpnIssuer(s.data);
    if (issuer === undefined || issuer === 'passkey') return issuer;
    const user = node.repository.findUser(s.subject);
    return user && passkeyRequired(user, node.settings) ? undefined : issuer;
  };

  const homePage = (s: Session<AccountData>, message?: string) => {
    const list = services.passkeys.list(s.subject);
    const vpn =
      vpnIssuerFor(s)
        ? html`<form method="post" action="/account/vpn-credential"><input type="hidden" name="_csrf" value="${s.csrf}">${vpnConnectionChoice(services)}
<div class="actions"><button type="submit">Get a one-time VPN password</button></div></form>`
        : html`<p>Sign in with a passkey to get a one-time VPN password.</p>`;
    const keys = webauthn
      ? html`<h2>Passkeys</h2>${list.length > 0 ? dataTable('Your passkeys', ['Name', 'Added', 'Last used', 'Without password'], list.map((p) => [p.label || '(no name)', formatTime(p.created_at), formatTime(p.last_used_at), p.passwordless ? 'yes' : 'no'])) : html`<p>You have no passkey yet.</p>`}
${passedSecondFactor(s.data) ? html`${field('Name of the new passkey', 'passkey-label', { hint: 'For example: work laptop, YubiKey.' })}
<p><button type="button" id="passkey-register" data-passkey hidden>Add a passkey</button></p><p id="passkey-status" role="status" aria-live="polite"></p>` : html`<p>To add a passkey, sign in with your password and code, or with a passkey.</p>`}`
      : '';
    return accountPage(
      `Signed in as ${s.subject}`,
      html`${problems(message ? [message] : [])}${state.pendingPushes?.(s.subject) ?? ''}<h2>VPN</h2>${vpn}${keys}
<form method="post" action="/account/sign-out"><input type="hidden" name="_csrf" value="${s.csrf}"><button type="submit" class="secondary">Sign out</button></form>`,
      { csrf: s.csrf, passkeys: webauthn !== undefined },
    );
  };

  app.get('/account/assets/passkeys.js', (_req, reply) => reply.type('text/javascript').header('cache-control', 'max-age=3600').send(readFileSync(join(ASSETS, 'passkeys.js'))));
  app.get('/account/assets/webauthn.js', (_req, reply) => reply.type('text/javascript').header('cache-control', 'max-age=3600').send(readFileSync(WEBAUTHN_BUNDLE)));

  app.get('/account', (req, reply) => {
    const s = session(req);
    return send(reply, s ? homePage(s) : signInPage(SIGNIN_TOKEN.issue(reply)));
  });

  app.post('/account/sign-in', async (req, reply) => {
    const form = (req.body ?? {}) as Form;
    const token = formText(form, '_signin');
    if (!SIGNIN_TOKEN.matches(req, token)) return send(reply, signInPage(SIGNIN_TOKEN.issue(reply), 'The sign-in form expired or was not sent from this site. Try again.'), 403);
    const username = formText(form, 'username');
    const refused = deps.guard.refuse(username, req.ip);
    if (refused) return send(reply, signInPage(token, refused, username), 429);
    const password = typeof form.password === 'string' ? form.password : '';
    // the code is the second factor: always asked, so a password alone opens nothing here
    const outcome = await checkPasswordAndCode({ username, password, code: formText(form, 'code') }, ports, () => true);
    if (!outcome.ok) {
      deps.guard.failed(username);
      deps.audit.record({ name: username || '(empty)', source: req.ip }, 'portal.sign-in-failed', username, { details: { method: 'password+code', reason: outcome.reason, detail: outcome.detail } });
      return send(reply, signInPage(token, REFUSED, username), 401);
    }
    if (outcome.user.failures > 0) await ports.recordSuccess(outcome.user);
    deps.guard.succeeded(username);
    SIGNIN_TOKEN.clear(reply);
    startSession(reply, outcome.user.username, 'password+code', req.ip);
    return reply.redirect('/account', 303);
  });

  /** A new sign-in challenge, remembered under a cookie of its own: for any discoverable key, or for `keys` of `userId`. */
  const startCeremony = async (reply: FastifyReply, ceremonies: PasskeyCeremonies, keys?: readonly PasskeyRecord[], userId?: number) => {
    const options = await ceremonies.authenticationOptions(keys);
    const id = randomBytes(24).toString('base64url');
    state.ceremonies.set(id, { challenge: options.challenge, userId });
    reply.setCookie(CEREMONY_COOKIE, id, { ...COOKIE_OPTIONS, maxAge: CEREMONY_MS / 1000 });
    return options;
  };

  /** A JSON call of a signed-in page: the session, its CSRF token in a header (no other site can set one). */
  const jsonSession = (req: FastifyRequest, reply: FastifyReply): Session<AccountData> | undefined => {
    const s = session(req);
    if (!s) refuse(reply, 401, 'your session ended: sign in again');
    else if (!sameToken(req.headers['x-csrf-token'] as string | undefined, s.csrf)) refuse(reply, 403, 'this request was not sent from this page');
    else return s;
    return undefined;
  };

  // the WebAuthn calls send JSON: parsed on these routes only (every other route takes forms), within the form limit
  void app.register(async (scope) => {
    acceptJsonBodies(scope);
    scope.post('/account/passkeys/options', async (req, reply) => {
      if (!webauthn) return refuse(reply, 404, 'passkeys are not set up on this server');
      const s = jsonSession(req, reply);
      if (!s) return reply;
      if (!passedSecondFactor(s.data)) return refuse(reply, 403, 'this sign-in did not pass a second factor: sign in with your password and code, or a passkey, to add one');
      const user = services.users.get(s.subject);
      const options = await webauthn.registrationOptions({ id: user.id, username: user.username, displayName: user.display_name }, services.passkeys.list(user.username));
      s.data.registration = { challenge: options.challenge, expires: Date.now() + CEREMONY_MS };
      return reply.send(options);
    });

    scope.post('/account/passkeys', async (req, reply) => {
      if (!webauthn) return refuse(reply, 404, 'passkeys are not set up on this server');
      const s = jsonSession(req, reply);
      if (!s) return reply;
      const pending = s.data.registration;
      delete s.data.registration;
      if (!pending || pending.expires <= Date.now()) return refuse(reply, 400, 'the registration expired: start again');
      const body = (req.body ?? {}) as { response?: unknown; label?: unknown };
      const actor = { name: s.subject, source: req.ip };
      const verified = await webauthn.verifyRegistration(body.response, pending.challenge).catch((err: Error) => err.message);
      if (typeof verified === 'string') {
        deps.audit.record(actor, 'portal.passkey-refused', s.subject, { details: { reason: verified } });
        return refuse(reply, 400, 'the passkey could not be verified');
      }
      const label = typeof body.label === 'string' ? body.label.trim().slice(0, 100) : '';
      try {
        services.passkeys.add({ ...verified, user_id: services.users.get(s.subject).id, label, created_at: Date.now(), last_used_at: null }, actor);
      } catch (err) {
        if (err instanceof ConflictError) return refuse(reply, 409, err.message);
        throw err;
      }
      return reply.send({ ok: true });
    });

    scope.post('/account/passkey-sign-in/options', async (req, reply) => {
      if (!webauthn) return refuse(reply, 404, 'passkeys are not set up on this server');
      const refused = deps.guard.refuse('', req.ip);
      if (refused) return refuse(reply, 429, refused);
      return reply.send(await startCeremony(reply, webauthn));
    });

    // the second-factor way: the password first (as for RADIUS: backends, lockout), then one of the user's keys
    scope.post('/account/passkey-sign-in/second-factor', async (req, reply) => {
      if (!webauthn) return refuse(reply, 404, 'passkeys are not set up on this server');
      const body = (req.body ?? {}) as { username?: unknown; password?: unknown };
      const username = typeof body.username === 'string' ? body.username.slice(0, 256) : '';
      const password = typeof body.password === 'string' ? body.password.slice(0, 1024) : '';
      const refused = deps.guard.refuse(username, req.ip);
      if (refused) return refuse(reply, 429, refused);
      const outcome = await checkPasswordAndCode({ username, password, code: '' }, ports, () => false);
      const keys = outcome.ok ? services.passkeys.list(outcome.user.username) : [];
      if (!outcome.ok || keys.length === 0) {
        deps.guard.failed(username);
        const reason = outcome.ok ? 'no passkey registered' : outcome.reason;
        deps.audit.record({ name: username || '(empty)', source: req.ip }, 'portal.sign-in-failed', username, { details: { method: 'password+passkey', reason } });
        return refuse(reply, 401, REFUSED);
      }
      return reply.send(await startCeremony(reply, webauthn, keys, outcome.user.id));
    });

    scope.post('/account/passkey-sign-in', async (req, reply) => {
      if (!webauthn) return refuse(reply, 404, 'passkeys are not set up on this server');
      const id = req.cookies[CEREMONY_COOKIE];
      const ceremony = id ? state.ceremonies.get(id) : undefined;
      // single use, whatever comes of it
      if (id) state.ceremonies.delete(id);
      reply.clearCookie(CEREMONY_COOKIE, COOKIE_OPTIONS);
      if (!ceremony) return refuse(reply, 400, 'the sign-in expired: start again');
      const failed = (reason: string, username = '(unknown)') => {
        deps.audit.record({ name: username, source: req.ip }, 'portal.sign-in-failed', username, { details: { method: 'passkey', reason } });
        return refuse(reply, 401, 'this passkey cannot sign in here');
      };
      const response = webauthn.parseAuthentication((req.body as { response?: unknown } | undefined)?.response);
      if (typeof response === 'string') return failed(response);
      const passkey = services.passkeys.find(response.id);
      if (!passkey) return failed('unknown passkey');
      const user = node.store.read('user', String(passkey.user_id));
      if (!user) return failed('the passkey\'s user is gone');
      const passwordless = ceremony.userId === undefined;
      // a second factor must be a key of the user whose password was given; a passwordless assertion names its user,
      // who must be the credential's owner
      if (!passwordless && passkey.user_id !== ceremony.userId) return failed('the passkey is another user\'s', user.username);
      if (passwordless && userIdOfHandle(response.response.userHandle) !== passkey.user_id) return failed('user handle does not match the passkey', user.username);
      const verified = await webauthn.verifyAuthentication(response, ceremony.challenge, passkey, passwordless).catch((err: Error) => err.message);
      if (typeof verified === 'string') {
        if (verified.startsWith('signature counter went back')) {
          node.logger.warn({ event: 'passkey-counter-backwards', user: user.username, passkey: passkey.id }, `passkey of ${user.username}: ${verified}`);
        }
        return failed(verified, user.username);
      }
      const authUser = node.repository.findUser(user.username);
      if (user.status !== 'active' || !authUser || (authUser.lockedUntil ?? 0) > Date.now()) return failed(`account ${user.status === 'active' ? 'locked' : 'disabled'}`, user.username);
      const mode = passkeySignInMode(authUser, node.settings);
      if (mode !== 'either' && mode !== (passwordless ? 'passwordless' : 'second-factor')) return failed(`this user's passkey sign-in is ${mode} only (settings: passkeys)`, user.username);
      services.passkeys.recordUse(passkey.id, verified.counter);
      if (authUser.failures > 0) await ports.recordSuccess(authUser);
      startSession(reply, user.username, 'passkey', req.ip);
      return reply.send({ next: '/account' });
    });
  });

  /** A form post of a signed-in page: the session and its CSRF field, or a redirect to sign in. */
  const formSession = (req: FastifyRequest): Session<AccountData> | undefined => {
    const s = session(req);
    return s && sameToken(formText((req.body ?? {}) as Form, '_csrf'), s.csrf) ? s : undefined;
  };

  app.post('/account/vpn-credential', (req, reply) => {
    const s = formSession(req);
    if (!s) return reply.redirect('/account', 303);
    const issuedBy = vpnIssuerFor(s);
    if (!issuedBy) return send(reply, homePage(s, 'Sign in with a passkey to get a one-time VPN password.'), 403);
    const ttlSeconds = deps.config.portal.vpn_credential_seconds;
    const client = chosenClient(services, formText((req.body ?? {}) as Form, 'client'));
    const issued = services.vpnCredentials.issue({ username: s.subject, client, ttlSeconds, issuedBy }, { name: s.subject, source: req.ip });
    if (client) s.data.vpn = { password: issued.password, client, expiresAt: issued.expiresAt };
    const minutes = Math.max(1, Math.round(ttlSeconds / 60));
    return send(
      reply,
      accountPage(
        'Your VPN login',
        html`<p>Start the VPN connection within ${minutes} minute${minutes === 1 ? '' : 's'} (until ${formatTime(issued.expiresAt)}). The password works once.</p>
<dl class="credential"><dt>User name</dt><dd><span class="secret" id="vpn-username">${issued.username}</span> <button type="button" class="secondary" data-copy="vpn-username">Copy user name</button></dd>
<dt>Password</dt><dd><span class="secret" id="vpn-password">${issued.password}</span> <button type="button" class="secondary" data-copy="vpn-password">Copy password</button></dd></dl>
${vpnDownloads(services, s, issued.client)}
<p><a href="/account">Back to your account</a></p>`,
      ),
    );
  });

  if (state.oidc) registerOidc(app, deps, state.oidc, { startSession: (reply, username, sso, address) => startSession(reply, username, 'oidc', address, sso) });
  registerVpnDownloads(app, { services, audit: deps.audit, formSession, send });

  app.post('/account/sign-out', (req, reply) => {
    const s = formSession(req);
    if (s) state.sessions.destroy(s.id);
    reply.clearCookie(ACCOUNT_COOKIE, COOKIE_OPTIONS);
    return reply.redirect('/account', 303);
  });
}
