import { httpsSend } from './https.js';

/** The value of a hidden field or element the portal's pages carry (the pages are ours: a pattern is enough). */
function pick(text: string, pattern: RegExp, what: string): string {
  const found = pattern.exec(text)?.[1];
  if (found === undefined) throw new Error(`no ${what} in the page:\n${text}`);
  return found;
}

/**
 * One visitor of the enrollment portal without a browser: it keeps its own cookies (a second browser tab, or a
 * script), so two of them are two sessions, and their requests can be sent at the same moment.
 */
export class PortalVisitor {
  private readonly cookies = new Map<string, string>();
  private signInToken = '';

  constructor(private readonly base: string) {}

  private async send(method: 'GET' | 'POST', path: string, form: Record<string, string> = {}) {
    const cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    const answer = await httpsSend(method, `${this.base}${path}`, new URLSearchParams(form).toString(), cookie);
    for (const line of answer.headers['set-cookie'] ?? []) {
      const [pair] = line.split(';');
      const eq = pair!.indexOf('=');
      const [name, value] = [pair!.slice(0, eq), pair!.slice(eq + 1)];
      if (value === '' || /max-age=0|expires=thu, 01 jan 1970/i.test(line)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return answer;
  }

  /** Loads the sign-in page (once: its token is reused, as a browser re-posting the form does). */
  async open(): Promise<void> {
    if (this.signInToken) return;
    const page = await this.send('GET', '/');
    this.signInToken = pick(page.text, /name="_signin" value="([^"]+)"/, 'sign-in token');
  }

  /** Posts the sign-in form; 303 to /enroll when signed in. */
  async signIn(username: string, password: string, code = ''): Promise<{ status: number; text: string }> {
    await this.open();
    return this.send('POST', '/sign-in', { _signin: this.signInToken, username, password, code });
  }

  /** The new token's key shown on the enrolment page, and the page's CSRF token. */
  async enrolment(): Promise<{ secret: string; csrf: string }> {
    const page = await this.send('GET', '/enroll');
    return {
      secret: pick(page.text, /id="manual-key">([A-Z2-7]+)</, 'key'),
      csrf: pick(page.text, /name="_csrf" value="([^"]+)"/, 'CSRF token'),
    };
  }

  async confirm(csrf: string, code: string): Promise<{ status: number; text: string }> {
    return this.send('POST', '/enroll', { _csrf: csrf, code });
  }
}
