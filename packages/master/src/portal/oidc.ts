/**
 * Single sign-on to the user portal with OpenID Connect providers (portal.oidc: Entra ID, Keycloak, Okta...), with
 * openid-client 6: the authorization code flow with PKCE (S256), a state and a nonce. What the flow needs between the
 * redirect and the callback (verifier, state, nonce) stays on the server, in a bounded map under a random id in a
 * short-lived cookie of its own; the callback takes it once, whatever comes of it. openid-client checks the ID token's
 * signature, iss, aud, exp and nonce; then the identity is matched to an otpgate user (oidc-claims.ts, and the links
 * kept in core: a linked identity always signs in as its user, whatever its name now).
 *
 * Every refusal at the callback (an unknown or restricted identity, a locked account, a tampered or replayed answer)
 * gets the same page; the reason goes to the audit log only.
 */
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import * as client from 'openid-client';
import { Agent } from 'undici';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { BoundedMap } from '@otpgate/core';
import { errorMessage, oidcRedirectUri, type OidcProviderConfig } from '@otpgate/shared';
import { html, type Html } from '../web/html.js';
import { COOKIE_OPTIONS } from '../web/signin-token.js';
import { accountPage } from './page.js';
import { readClaims } from './oidc-claims.js';
import type { AccountDeps } from './account.js';

/** The provider's answer comes from another site, as a top-level GET: a SameSite=Strict cookie would not come with it. */
const FLOW_COOKIE = '__Host-otpgate-oidc';
const FLOW_COOKIE_OPTIONS = { ...COOKIE_OPTIONS, sameSite: 'lax' } as const;
/** Time to sign in at the provider (typing a password, an MFA prompt). */
const FLOW_MS = 10 * 60_000;
/** Sign-ins under way at once; past that the oldest is dropped. */
const MAX_FLOWS = 10_000;

interface PendingSignIn {
  provider: string;
  state: string;
  nonce: string;
  verifier: string;
}

/** What an SSO session keeps: the provider, and whether its sign-in counts as two factors (provider's mfa). */
export interface SsoSignIn {
  provider: string;
  mfa: boolean;
}

/** How the VPN credential issued after this sign-in is shown in the audit and auth logs. */
export function ssoIssuer(sso: SsoSignIn): `oidc:${string}` {
  return `oidc:${sso.provider}`;
}

/** The providers, discovered when first used (a provider down at start must not stop the master). */
export class OidcProviders {
  readonly pending: BoundedMap<string, PendingSignIn>;
  private readonly configurations = new Map<string, Promise<client.Configuration>>();

  constructor(
    readonly list: readonly OidcProviderConfig[],
    readonly origin: string,
    meter: AccountDeps['node']['metrics'],
  ) {
    this.pending = new BoundedMap({ name: 'oidc_sign_ins', maxEntries: MAX_FLOWS, maxAgeMs: FLOW_MS, meter });
  }

  find(name: string): OidcProviderConfig | undefined {
    return this.list.find((p) => p.name === name);
  }

  /** The provider's metadata and keys (discovery), fetched once; a failed discovery is tried again next time. */
  configuration(provider: OidcProviderConfig): Promise<client.Configuration> {
    let found = this.configurations.get(provider.name);
    if (!found) {
      found = discover(provider, this.origin);
      this.configurations.set(provider.name, found);
      found.catch(() => this.configurations.delete(provider.name));
    }
    return found;
  }
}

async function discover(provider: OidcProviderConfig, origin: string): Promise<client.Configuration> {
  const secret = provider.client_secret ?? readFileSync(provider.client_secret_file ?? '', 'utf8').trim();
  const options: client.DiscoveryRequestOptions = {};
  if (provider.ca_file) {
    // a private provider's CA, for this provider's requests only
    const dispatcher = new Agent({ connect: { ca: readFileSync(provider.ca_file) } });
    options[client.customFetch] = (url, init) => fetch(url, { ...init, dispatcher } as RequestInit);
  }
  return client.discovery(new URL(provider.issuer), provider.client_id, { redirect_uris: [oidcRedirectUri(origin, provider.name)] }, client.ClientSecretPost(secret), options);
}

/** openid-client's error and the check that failed beneath it (its cause: "unexpected ID Token "nonce" claim value"). */
function withCause(err: unknown): string {
  const cause = err instanceof Error ? err.cause : undefined;
  return cause instanceof Error ? `${err instanceof Error ? err.message : ''}: ${cause.message}` : errorMessage(err);
}

/** The sign-in page's part: one button (a link: the page's CSP allows forms to post to the portal only) per provider. */
export function ssoButtons(providers: OidcProviders): Html {
  return html`<h2>With your organisation's account</h2><div class="actions">${providers.list.map(
    (p) => html`<a class="button" href="/account/oidc/${p.name}">Sign in with ${p.label}</a>`,
  )}</div>`;
}

export interface OidcHooks {
  /** Starts the portal session of a signed-in user. */
  startSession(reply: FastifyReply, username: string, sso: SsoSignIn, address: string): void;
}

export function registerOidc(app: FastifyInstance, deps: AccountDeps, providers: OidcProviders, hooks: OidcHooks): void {
  const { node, services } = deps;
  const send = (reply: FastifyReply, page: Html, status = 200) => reply.code(status).type('text/html; charset=utf-8').send(page.value);
  const refusedPage = (provider: OidcProviderConfig) =>
    accountPage(
      'Not signed in',
      html`<div class="problems" role="alert"><p>Your ${provider.label} account cannot sign in here, or the sign-in took too long or was interrupted.</p></div>
<p>Try again. If it fails again, ask your administrator.</p><p><a href="/account">Back to sign-in</a></p>`,
    );
  const unavailable = (reply: FastifyReply, provider: OidcProviderConfig, err: unknown) => {
    node.logger.error({ event: 'oidc-provider-unavailable', provider: provider.name, err: errorMessage(err) }, `identity provider ${provider.name} cannot be used: ${errorMessage(err)}`);
    return send(reply, accountPage('Sign-in unavailable', html`<p>${provider.label} cannot be reached now. Try again later, or sign in another way.</p><p><a href="/account">Back to sign-in</a></p>`), 502);
  };
  const providerOf = (req: FastifyRequest) => providers.find((req.params as { name: string }).name);

  app.get('/account/oidc/:name', async (req, reply) => {
    const provider = providerOf(req);
    if (!provider) return reply.code(404).send('no such identity provider');
    const refused = deps.guard.refuse('', req.ip);
    if (refused) return send(reply, accountPage('Not signed in', html`<div class="problems" role="alert"><p>${refused}</p></div>`), 429);
    let config: client.Configuration;
    try {
      config = await providers.configuration(provider);
    } catch (err) {
      return unavailable(reply, provider, err);
    }
    const pending: PendingSignIn = { provider: provider.name, state: client.randomState(), nonce: client.randomNonce(), verifier: client.randomPKCECodeVerifier() };
    const id = randomBytes(24).toString('base64url');
    providers.pending.set(id, pending);
    reply.setCookie(FLOW_COOKIE, id, { ...FLOW_COOKIE_OPTIONS, maxAge: FLOW_MS / 1000 });
    const target = client.buildAuthorizationUrl(config, {
      redirect_uri: oidcRedirectUri(providers.origin, provider.name),
      scope: provider.scopes.join(' '),
      state: pending.state,
      nonce: pending.nonce,
      code_challenge: await client.calculatePKCECodeChallenge(pending.verifier),
      code_challenge_method: 'S256',
    });
    return reply.redirect(target.href, 303);
  });

  app.get('/account/oidc/:name/callback', async (req, reply) => {
    const provider = providerOf(req);
    if (!provider) return reply.code(404).send('no such identity provider');
    const method = `oidc:${provider.name}`;
    const id = req.cookies[FLOW_COOKIE];
    const pending = id ? providers.pending.get(id) : undefined;
    // single use, whatever comes of it
    if (id) providers.pending.delete(id);
    reply.clearCookie(FLOW_COOKIE, FLOW_COOKIE_OPTIONS);
    const refuse = (reason: string, who = '(unknown)') => {
      deps.audit.record({ name: who, source: req.ip }, 'portal.sign-in-failed', who, { details: { method, reason } });
      return send(reply, refusedPage(provider), 403);
    };
    if (pending?.provider !== provider.name) return refuse('no sign-in with this provider under way in this browser (expired, used already, or started elsewhere)');

    let claims: client.IDToken | undefined;
    try {
      const config = await providers.configuration(provider);
      const tokens = await client.authorizationCodeGrant(config, new URL(req.url, providers.origin), {
        pkceCodeVerifier: pending.verifier,
        expectedState: pending.state,
        expectedNonce: pending.nonce,
        idTokenExpected: true,
      });
      claims = tokens.claims();
    } catch (err) {
      return refuse(`the provider's answer was refused: ${withCause(err)}`);
    }
    if (!claims) return refuse('the provider sent no ID token');

    const reading = readClaims(claims, provider);
    if (!reading.ok) return refuse(reading.reason, reading.name);
    const matched = reading.name === undefined ? undefined : node.repository.findUser(reading.name);
    const outcome = services.oidcIdentities.signIn(provider.name, reading.subject, matched?.id);
    if (!outcome.ok) return refuse(reading.nameProblem ? `${outcome.reason} (${reading.nameProblem})` : outcome.reason, reading.name);
    const user = node.store.read('user', String(outcome.userId));
    const authUser = user ? node.repository.findUser(user.username) : undefined;
    if (!user || !authUser) return refuse('the linked user is gone', reading.name);
    if (user.status !== 'active') return refuse('account disabled', user.username);
    if ((authUser.lockedUntil ?? 0) > Date.now()) return refuse('account locked', user.username);
    if (outcome.linked === 'now') {
      deps.audit.record({ name: user.username, source: req.ip }, 'portal.sso-linked', user.username, { details: { method, identity: reading.subject } });
    }
    hooks.startSession(reply, user.username, { provider: provider.name, mfa: provider.mfa }, req.ip);
    // a page of the portal's own moves on to the account: the browser came here from the provider's site, and the
    // session cookie (SameSite=Strict) goes only with a navigation this site starts
    return send(
      reply,
      accountPage('Signed in', html`<p>You are signed in. <a href="/account" id="continue">Continue to your account</a>.</p>`, { refresh: '/account' }),
    );
  });
}
