import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomBytes, randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair } from 'jose';
import Provider, { type KoaContextWithOIDC } from 'oidc-provider';

/** What the provider says of one of its users: Entra's claims (tid, oid, preferred_username, upn, groups). */
export interface IdpAccount {
  oid: string;
  preferred_username: string;
  upn?: string;
  email?: string;
  groups?: string[];
  roles?: string[];
}

export interface TestIdpOptions {
  port: number;
  cert: string;
  key: string;
  clientId: string;
  clientSecret: string;
  /** The portal's callbacks: one client may serve several providers of the portal's config. */
  redirectUris: string[];
}

const CLAIMS = ['preferred_username', 'upn', 'tid', 'oid', 'groups', 'roles', 'name'];

/**
 * A real OpenID Connect provider (panva's oidc-provider) on https, shaped like Entra ID: the issuer is
 * https://127.0.0.1:PORT/TENANT-GUID/v2.0, PKCE is required, ID tokens carry tid/oid/preferred_username/upn/groups,
 * consent is granted without asking, and the login page is a one-field form naming the account (the test's `accounts`,
 * which a test may change: a rename at the provider).
 */
export class TestIdp {
  readonly tenant = randomUUID();
  readonly accounts = new Map<string, IdpAccount>();
  readonly issuer: string;
  /** Changes the parameters of the next authorization requests as they arrive (an attacker on the way). */
  tamper: ((params: URLSearchParams) => void) | undefined;
  private server: Server | undefined;

  constructor(private readonly options: TestIdpOptions) {
    this.issuer = `https://127.0.0.1:${options.port}/${this.tenant}/v2.0`;
  }

  async start(): Promise<void> {
    const { privateKey } = await generateKeyPair('RS256', { extractable: true });
    const prefix = `/${this.tenant}/v2.0`;
    const provider = new Provider(this.issuer, {
      clients: [
        {
          client_id: this.options.clientId,
          client_secret: this.options.clientSecret,
          redirect_uris: this.options.redirectUris,
          response_types: ['code'],
          grant_types: ['authorization_code'],
          token_endpoint_auth_method: 'client_secret_post',
        },
      ],
      jwks: { keys: [{ ...(await exportJWK(privateKey)), alg: 'RS256', use: 'sig', kid: 'test' }] },
      cookies: { keys: [randomBytes(32).toString('hex')] },
      pkce: { required: () => true },
      ttl: { AccessToken: 600, AuthorizationCode: 60, IdToken: 600, Interaction: 600, Session: 3600, Grant: 3600 },
      features: { devInteractions: { enabled: false } },
      // the claims go into the ID token itself, as Entra's do (not only to userinfo)
      conformIdTokenClaims: false,
      claims: { openid: ['sub'], profile: CLAIMS, email: ['email'] },
      interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
      findAccount: (_ctx, id) => {
        const account = this.accounts.get(id);
        if (!account) return undefined;
        return {
          accountId: id,
          claims: () => ({ sub: `pairwise-${id}`, tid: this.tenant, name: id, ...account }),
        };
      },
      // consent is granted: the portal is a first-party application
      loadExistingGrant: async (ctx: KoaContextWithOIDC) => {
        const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client!.clientId, accountId: ctx.oidc.session!.accountId });
        grant.addOIDCScope('openid profile email');
        grant.addOIDCClaims(CLAIMS);
        await grant.save();
        return grant;
      },
    });
    const callback = provider.callback();
    const interaction = async (req: IncomingMessage, res: ServerResponse) => {
      const details = await provider.interactionDetails(req, res);
      if (req.method === 'POST') {
        const body = new URLSearchParams(await new Promise<string>((resolve) => {
          let text = '';
          req.on('data', (chunk: Buffer) => (text += chunk.toString()));
          req.on('end', () => resolve(text));
        }));
        await provider.interactionFinished(req, res, { login: { accountId: body.get('account') ?? '' } }, { mergeWithLastSubmission: false });
        return;
      }
      res.setHeader('content-type', 'text/html; charset=utf-8');
      res.end(`<!doctype html><html lang="en"><title>Contoso sign-in</title><h1>Contoso sign-in</h1>
<form method="post" action="/interaction/${details.uid}"><label>Account <input name="account"></label> <button type="submit">Next</button></form></html>`);
    };
    this.server = createServer({ cert: this.options.cert, key: this.options.key }, (req, res) => {
      const url = req.url ?? '/';
      if (url.startsWith('/interaction/')) {
        interaction(req, res).catch((err: unknown) => {
          res.statusCode = 500;
          res.end(String(err));
        });
      } else if (url.startsWith(`${prefix}/`)) {
        // mounted under the issuer's path, as Entra's endpoints are
        let path = url;
        if (this.tamper && url.startsWith(`${prefix}/auth?`)) {
          const [pathname, query] = url.split('?', 2) as [string, string];
          const params = new URLSearchParams(query);
          this.tamper(params);
          path = `${pathname}?${params.toString()}`;
        }
        (req as IncomingMessage & { originalUrl?: string }).originalUrl = path;
        req.url = path.slice(prefix.length);
        void callback(req, res);
      } else {
        res.statusCode = 404;
        res.end();
      }
    });
    await new Promise<void>((resolve) => this.server!.listen(this.options.port, '127.0.0.1', resolve));
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
