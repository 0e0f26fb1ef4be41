/**
 * The user portal's pages (account, passkeys, VPN credentials) in the one page shell: phone first, no navigation, one
 * task a page. Scripts only add the WebAuthn buttons; everything else works without them.
 */
import { html, type Html, type HtmlValue } from '../web/html.js';
import { pageShell } from '../web/page.js';

export function accountPage(title: string, body: HtmlValue, options: { csrf?: string; passkeys?: boolean; refresh?: string } = {}): Html {
  const head = html`${options.csrf ? html`<meta name="csrf" content="${options.csrf}">` : ''}${options.refresh ? html`<meta http-equiv="refresh" content="0;url=${options.refresh}">` : ''}${
    options.passkeys ? html`<script src="/account/assets/webauthn.js" defer></script><script src="/account/assets/passkeys.js" defer></script>` : ''
  }`;
  return pageShell({ title, tagline: 'Your account', head }, body);
}
