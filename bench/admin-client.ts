/**
 * The admin UI over one kept-alive HTTPS connection (undici), signed in the way a browser signs in: the sign-in page
 * sets a double-submit cookie that the form echoes in _signin; the session cookie comes back on the redirect. Used by
 * the benches that drive the admin UI (ui-users.ts, soak.ts).
 */
import { Client } from 'undici';

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export function cookiesOf(headers: Answer['headers']): Map<string, string> {
  const raw = headers['set-cookie'];
  const list = raw === undefined ? [] : Array.isArray(raw) ? raw : [raw];
  return new Map(list.map((c) => c.split(';')[0]!).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
}

export class AdminClient {
  private cookie = '';

  /** `ca`: the node's own admin certificate, the one trust anchor (verified, not ignored); none: not verified. */
  constructor(
    url: string,
    ca?: string,
    private readonly client = new Client(url, { connect: ca ? { ca } : { rejectUnauthorized: false }, pipelining: 1, keepAliveTimeout: 60_000 }),
  ) {}

  async send(path: string, init: { method?: 'GET' | 'POST'; form?: Record<string, string> } = {}): Promise<Answer> {
    const res = await this.client.request({
      path,
      method: init.method ?? 'GET',
      headers: {
        ...(this.cookie ? { cookie: this.cookie } : {}),
        ...(init.form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
      },
      body: init.form ? new URLSearchParams(init.form).toString() : undefined,
      headersTimeout: 30_000,
      bodyTimeout: 30_000,
    });
    return { status: res.statusCode, headers: res.headers, body: await res.body.text() };
  }

  async signIn(admin: string, password: string): Promise<void> {
    this.cookie = '';
    const form = await this.send('/login');
    const signinCookie = cookiesOf(form.headers).get('__Host-otpgate-signin');
    const token = /name="_signin" value="([^"]+)"/.exec(form.body)?.[1];
    if (form.status !== 200 || !signinCookie || !token) throw new Error(`GET /login: ${form.status}, no sign-in cookie or _signin field`);
    this.cookie = `__Host-otpgate-signin=${signinCookie}`;
    const signedIn = await this.send('/login', { method: 'POST', form: { _signin: token, next: '/', username: admin, password, code: '' } });
    const session = cookiesOf(signedIn.headers).get('__Host-otpgate-session');
    if (signedIn.status !== 303 || !session) throw new Error(`POST /login: ${signedIn.status}, no session cookie (wrong admin password?)`);
    this.cookie = `__Host-otpgate-session=${session}`;
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}
