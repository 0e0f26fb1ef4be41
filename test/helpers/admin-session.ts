import { Agent, FormData, fetch } from 'undici';

/**
 * The admin UI driven over HTTPS without a browser, as a browser would: sign in with the sign-in form's
 * double-submit token, then pages and forms with the session cookie and the page's CSRF token. For tests that need
 * the admin UI as a source of load or of a long write, not its looks (those are in admin-ui*.test.ts).
 */
export class AdminSession {
  private static readonly agent = new Agent({ connect: { rejectUnauthorized: false } });

  private constructor(
    private readonly baseUrl: string,
    private readonly cookie: string,
  ) {}

  static async signIn(baseUrl: string, username: string, password: string): Promise<AdminSession> {
    const login = await fetch(`${baseUrl}/login`, { dispatcher: AdminSession.agent });
    const signinCookie = login.headers.getSetCookie().find((c) => c.startsWith('__Host-otpgate-signin='))?.split(';')[0];
    const token = /name="_signin" value="([^"]+)"/.exec(await login.text())?.[1];
    if (!signinCookie || !token) throw new Error(`GET /login: ${login.status}, no sign-in cookie or _signin field`);
    const answer = await fetch(`${baseUrl}/login`, {
      dispatcher: AdminSession.agent,
      method: 'POST',
      redirect: 'manual',
      headers: { cookie: signinCookie, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ _signin: token, next: '/', username, password, code: '' }).toString(),
    });
    await answer.text();
    const session = answer.headers.getSetCookie().find((c) => c.startsWith('__Host-otpgate-session='))?.split(';')[0];
    if (answer.status !== 303 || !session) throw new Error(`POST /login: ${answer.status}, no session cookie (wrong admin password?)`);
    return new AdminSession(baseUrl, session);
  }

  /** A page's status and HTML. */
  async get(path: string): Promise<{ status: number; body: string }> {
    const answer = await fetch(`${this.baseUrl}${path}`, { dispatcher: AdminSession.agent, redirect: 'manual', headers: { cookie: this.cookie } });
    return { status: answer.status, body: await answer.text() };
  }

  /** The CSRF token a page's forms carry. */
  async csrf(path: string): Promise<string> {
    const page = await this.get(path);
    const token = /name="_csrf" value="([^"]+)"/.exec(page.body)?.[1];
    if (!token) throw new Error(`GET ${path}: ${page.status}, no form with a CSRF token`);
    return token;
  }

  /** Post a form (urlencoded, or multipart when `file` is given); the status and where it redirects to. */
  async post(
    path: string,
    fields: Record<string, string>,
    file?: { field: string; name: string; content: string },
  ): Promise<{ status: number; location: string | null; body: string }> {
    let body: string | FormData;
    const headers: Record<string, string> = { cookie: this.cookie };
    if (file) {
      body = new FormData();
      for (const [k, v] of Object.entries(fields)) body.append(k, v);
      body.append(file.field, new Blob([file.content]), file.name);
    } else {
      body = new URLSearchParams(fields).toString();
      headers['content-type'] = 'application/x-www-form-urlencoded';
    }
    const answer = await fetch(`${this.baseUrl}${path}`, { dispatcher: AdminSession.agent, method: 'POST', redirect: 'manual', headers, body });
    return { status: answer.status, location: answer.headers.get('location'), body: await answer.text() };
  }
}
