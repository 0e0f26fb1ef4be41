/**
 * The user portal's page shell (account, passkeys, VPN credentials): phone first, no navigation, one task a page.
 * Scripts only add the WebAuthn buttons; everything else works without them.
 */
import { html, type Html, type HtmlValue } from '../admin/html.js';

export function accountPage(title: string, body: HtmlValue, options: { csrf?: string; passkeys?: boolean } = {}): Html {
  const scripts = options.passkeys
    ? html`<script src="/account/assets/webauthn.js" defer></script><script src="/account/assets/passkeys.js" defer></script>`
    : '';
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
${options.csrf ? html`<meta name="csrf" content="${options.csrf}">` : ''}
<title>${title} · otpgate</title><link rel="stylesheet" href="/assets/style.css"><script src="/assets/app.js" defer></script>${scripts}</head>
<body><header class="top"><span class="brand">otpgate</span><span class="node">Your account</span></header>
<main id="main"><h1>${title}</h1>${body}</main></body></html>`;
}
