import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

/**
 * A stand-in for Entra ID's v2.0 token endpoint (ROPC grant) over HTTPS on 127.0.0.1: it checks requests the way
 * Entra does and answers with the real body shapes (error, error_description with trace/correlation/timestamp
 * lines, error_codes, timestamp, trace_id, correlation_id, error_uri, suberror/claims).
 */

/** What a test user's sign-in comes to once Entra has looked at it. */
export type EntraScenario =
  /** 50076 as error=interaction_required. */
  | 'mfa-required'
  /** 50076 as error=invalid_grant with suberror=basic_action and claims. */
  | 'mfa-basic-action'
  | 'mfa-enrol'
  | 'external-challenge'
  /** HTTP 200 with a token: no MFA for this account. */
  | 'no-mfa'
  | 'conditional-access'
  | 'locked'
  | 'disabled'
  | 'password-expired'
  | 'no-password'
  | 'no-consent'
  /** A code otpgate does not know (AADSTS50196, request loop). */
  | 'unknown-code'
  /** HTTP 500 with an OAuth2 error body. */
  | 'server-error'
  /** HTTP 502 with an HTML page, as a gateway in front would send. */
  | 'bad-gateway'
  /** Never answers. */
  | 'hang';

export interface FakeUser {
  password: string;
  scenario: EntraScenario;
}

export interface FakeApp {
  /** "Allow public client flows": without it, the request needs the client secret (else AADSTS7000218). */
  publicClient: boolean;
  secret?: string;
}

export interface RecordedRequest {
  method: string;
  path: string;
  contentType: string;
  form: Record<string, string>;
}

export interface FakeEntraOptions {
  /** Tenant ids or domains this "cloud" knows. */
  tenants: string[];
  apps: Record<string, FakeApp>;
  /** By UPN (case-insensitive, as Entra). */
  users: Record<string, FakeUser>;
}

/** HTTP 200: what Entra sends when the password alone was enough. */
interface TokenAnswer {
  token: Record<string, unknown>;
}

interface ErrorAnswer {
  status: number;
  error: string;
  code: number;
  text: string;
  extra?: Record<string, string>;
}

type Answer = ErrorAnswer | TokenAnswer;

const GRAPH = '00000003-0000-0000-c000-000000000000';

function entraTimestamp(): string {
  return new Date().toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

/** The body Entra sends for every failure, byte for byte in shape. */
function errorBody(answer: ErrorAnswer): Record<string, unknown> {
  const traceId = randomUUID();
  const correlationId = randomUUID();
  const timestamp = entraTimestamp();
  return {
    error: answer.error,
    error_description: `AADSTS${answer.code}: ${answer.text}\r\nTrace ID: ${traceId}\r\nCorrelation ID: ${correlationId}\r\nTimestamp: ${timestamp}`,
    error_codes: [answer.code],
    timestamp,
    trace_id: traceId,
    correlation_id: correlationId,
    error_uri: `https://login.microsoftonline.com/error?code=${answer.code}`,
    ...answer.extra,
  };
}

const missing = (name: string): ErrorAnswer => ({
  status: 400,
  error: 'invalid_request',
  code: 900144,
  text: `The request body must contain the following parameter: '${name}'.`,
});

function fakeJwt(claims: Record<string, unknown>): string {
  const part = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  return `${part({ typ: 'JWT', alg: 'RS256', kid: 'fake' })}.${part(claims)}.${randomBytes(32).toString('base64url')}`;
}

/** What Entra sends once it has judged the user (the password was right unless the scenario says otherwise). */
function scenarioAnswer(scenario: EntraScenario, clientId: string): ErrorAnswer | undefined {
  const mfaText = `Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication to access '${GRAPH}'.`;
  switch (scenario) {
    case 'mfa-required':
      return { status: 400, error: 'interaction_required', code: 50076, text: mfaText };
    case 'mfa-basic-action':
      return {
        status: 400,
        error: 'invalid_grant',
        code: 50076,
        text: mfaText,
        extra: { suberror: 'basic_action', claims: JSON.stringify({ access_token: { capolids: { essential: true, values: [randomUUID()] } } }) },
      };
    case 'mfa-enrol':
      return {
        status: 400,
        error: 'interaction_required',
        code: 50079,
        text: `Due to a configuration change made by your administrator, or because you moved to a new location, you must enroll in multi-factor authentication to access '${GRAPH}'.`,
      };
    case 'external-challenge':
      return {
        status: 400,
        error: 'interaction_required',
        code: 50158,
        text: 'External security challenge not satisfied. User will be redirected to another page or authentication provider to satisfy additional authentication challenges.',
      };
    case 'conditional-access':
      return { status: 400, error: 'invalid_grant', code: 53003, text: 'Access has been blocked by Conditional Access policies. The access policy does not allow token issuance.' };
    case 'password-expired':
      return { status: 400, error: 'invalid_grant', code: 50055, text: 'The password is expired.' };
    case 'no-consent':
      return {
        status: 400,
        error: 'invalid_grant',
        code: 65001,
        text: `The user or administrator has not consented to use the application with ID '${clientId}' named 'otpgate'. Send an interactive authorization request for this user and resource.`,
      };
    case 'unknown-code':
      return { status: 400, error: 'invalid_request', code: 50196, text: 'The server terminated an operation because it encountered a client request loop. Please contact your app vendor.' };
    default:
      return undefined;
  }
}

const run = promisify(execFile);

export interface TestPki {
  /** The CA certificate (PEM): what ca_certificates must hold to trust the server. */
  ca: string;
  /** Server certificate for 127.0.0.1 / localhost, signed by the CA, and its key (PEM). */
  cert: string;
  key: string;
}

/**
 * A throw-away CA and a server certificate for 127.0.0.1, made with the openssl CLI (ECDSA P-256, one day), so a
 * test can trust exactly this server and nothing else.
 */
export async function createTestPki(): Promise<TestPki> {
  const dir = await mkdtemp(join(tmpdir(), 'fake-entra-'));
  const file = (name: string) => join(dir, name);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  try {
    const caSubject = ['-subj', '/CN=fake Entra test CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'];
    await run('openssl', ['req', '-x509', ...ec, '-keyout', file('ca.key'), '-out', file('ca.pem'), '-days', '1', ...caSubject]);
    await run('openssl', ['req', ...ec, '-keyout', file('server.key'), '-out', file('server.csr'), '-subj', '/CN=login.microsoftonline.com']);
    const extensions = ['basicConstraints=CA:FALSE', 'keyUsage=critical,digitalSignature', 'extendedKeyUsage=serverAuth', 'subjectAltName=IP:127.0.0.1,DNS:localhost'];
    await writeFile(file('server.ext'), `${extensions.join('\n')}\n`);
    const signing = ['-CA', file('ca.pem'), '-CAkey', file('ca.key'), '-CAcreateserial', '-days', '1', '-extfile', file('server.ext')];
    await run('openssl', ['x509', '-req', '-in', file('server.csr'), '-out', file('server.pem'), ...signing]);
    const [ca, cert, key] = await Promise.all(['ca.pem', 'server.pem', 'server.key'].map((n) => readFile(file(n), 'utf8')));
    return { ca: ca!, cert: cert!, key: key! };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export class FakeEntra {
  readonly requests: RecordedRequest[] = [];
  /** TLS connections accepted: shows whether the client reuses them. */
  connections = 0;
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    /** The test CA that signed the server certificate (PEM), for ca_certificates. */
    readonly caCertificate: string,
    private readonly options: FakeEntraOptions,
  ) {}

  static async start(options: FakeEntraOptions): Promise<FakeEntra> {
    const pki = await createTestPki();
    const server = createServer({ key: pki.key, cert: pki.cert });
    const fake = new FakeEntra(server, pki.ca, options);
    server.on('request', (req: IncomingMessage, res: ServerResponse) => void fake.handle(req, res));
    server.on('secureConnection', (socket: Socket) => {
      fake.connections += 1;
      fake.sockets.add(socket);
      socket.on('close', () => fake.sockets.delete(socket));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return fake;
  }

  get authority(): string {
    return `https://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const contentType = req.headers['content-type'] ?? '';
    const isForm = contentType.split(';')[0]!.trim().toLowerCase() === 'application/x-www-form-urlencoded';
    const form = isForm ? Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString('utf8'))) : {};
    const path = (req.url ?? '/').split('?')[0]!;
    this.requests.push({ method: req.method ?? '', path, contentType, form });

    const answer = this.judge(req.method ?? '', path, isForm, form);
    if (answer === 'hang') return;
    if (answer === 'not-found') {
      res.writeHead(404, { 'content-type': 'text/html' }).end('<html><body>404 Not Found</body></html>');
    } else if (answer === 'bad-gateway') {
      res.writeHead(502, { 'content-type': 'text/html' }).end('<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center></body></html>');
    } else if ('token' in answer) {
      this.json(res, 200, answer.token);
    } else {
      this.json(res, answer.status, errorBody(answer));
    }
  }

  private json(res: ServerResponse, status: number, body: Record<string, unknown>): void {
    res
      .writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store, no-cache', 'x-ms-request-id': randomUUID() })
      .end(JSON.stringify(body));
  }

  /** Entra's checks, in its order: route, tenant, method, body, client, then the user. */
  private judge(method: string, path: string, isForm: boolean, form: Record<string, string>): Answer | 'hang' | 'not-found' | 'bad-gateway' {
    const route = /^\/([^/]+)\/oauth2\/v2\.0\/token$/.exec(path);
    if (!route) return 'not-found';
    const tenant = decodeURIComponent(route[1]!);
    if (!this.options.tenants.some((t) => t.toLowerCase() === tenant.toLowerCase())) {
      return {
        status: 400,
        error: 'invalid_request',
        code: 90002,
        text: `Tenant '${tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.`,
      };
    }
    if (method !== 'POST') {
      return { status: 400, error: 'invalid_request', code: 900561, text: `The endpoint only accepts POST, OPTIONS requests. Received a ${method} request.` };
    }
    if (!isForm || !form.grant_type) return missing('grant_type');
    if (form.grant_type !== 'password') {
      return { status: 400, error: 'unsupported_grant_type', code: 70003, text: 'The app requested an unsupported grant type.' };
    }
    if (!form.client_id) return missing('client_id');
    const app = this.options.apps[form.client_id];
    if (!app) {
      return {
        status: 400,
        error: 'unauthorized_client',
        code: 700016,
        text: `Application with identifier '${form.client_id}' was not found in the directory '${tenant}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.`,
      };
    }
    if (!form.scope) {
      return { status: 400, error: 'invalid_request', code: 90014, text: "The required field 'scope' is missing from the credential. Ensure that you have all the necessary parameters for the login request." };
    }
    if (app.publicClient && form.client_secret !== undefined) {
      return { status: 401, error: 'invalid_client', code: 700025, text: "Client is public so neither 'client_assertion' nor 'client_secret' should be presented." };
    }
    if (!app.publicClient && form.client_secret === undefined) {
      return { status: 401, error: 'invalid_client', code: 7000218, text: "The request body must contain the following parameter: 'client_assertion' or 'client_secret'." };
    }
    if (!app.publicClient && form.client_secret !== app.secret) {
      return { status: 401, error: 'invalid_client', code: 7000215, text: 'Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.' };
    }
    if (!form.username) return missing('username');
    if (!form.password) return missing('password');
    return this.judgeUser(form.username, form.password, form.client_id, form.scope, tenant);
  }

  private judgeUser(upn: string, password: string, clientId: string, scope: string, tenant: string): Answer | 'hang' | 'bad-gateway' {
    const user = Object.entries(this.options.users).find(([name]) => name.toLowerCase() === upn.toLowerCase())?.[1];
    if (!user) {
      return {
        status: 400,
        error: 'invalid_grant',
        code: 50034,
        text: `The user account {EUII Hidden} does not exist in the ${tenant} directory. To sign into this application, the account must be added to the directory.`,
      };
    }
    switch (user.scenario) {
      case 'hang':
      case 'bad-gateway':
        return user.scenario;
      case 'server-error':
        return { status: 500, error: 'temporarily_unavailable', code: 90033, text: 'A transient error has occurred. Please try again.' };
      case 'locked':
        return { status: 400, error: 'invalid_grant', code: 50053, text: "The account is locked, you've tried to sign in too many times with an incorrect user ID or password." };
      case 'disabled':
        return { status: 400, error: 'invalid_grant', code: 50057, text: 'The user account is disabled. The user object in Active Directory backing this account has been disabled. An admin can re-enable this account through PowerShell' };
      case 'no-password':
        return { status: 400, error: 'invalid_grant', code: 50056, text: 'Invalid or missing password: password does not exist in the directory for this user.' };
      default:
        break;
    }
    if (password !== user.password) {
      return { status: 400, error: 'invalid_grant', code: 50126, text: 'Error validating credentials due to invalid username or password.' };
    }
    const refused = scenarioAnswer(user.scenario, clientId);
    if (refused) return refused;
    const scopes = scope.split(' ');
    const token = {
      token_type: 'Bearer',
      scope: scopes.includes('openid') ? 'openid profile email User.Read' : scope,
      expires_in: 4762,
      ext_expires_in: 4762,
      access_token: fakeJwt({ aud: GRAPH, upn, scp: 'openid profile email User.Read' }),
      ...(scopes.includes('openid') ? { id_token: fakeJwt({ aud: clientId, preferred_username: upn }) } : {}),
    };
    return { token };
  }
}
