/**
 * The page shell every web app's pages are rendered in: one stylesheet and one script, both served by the node itself
 * (web/app.ts), no inline script or style (the CSP forbids them), a header, an optional navigation, the flash
 * messages and the page's heading.
 */
import { html, type Html, type HtmlValue } from './html.js';
import type { Session } from './sessions.js';

export interface Nav {
  href: string;
  label: string;
}

export type Flash = Session<unknown>['flash'][number];

export interface ShellOptions {
  title: string;
  /** Beside the brand in the header: the node ("otp1 (master)"), or what the app is for. */
  tagline?: string;
  /** The header's end: who is signed in, and how to sign out. */
  account?: Html;
  nav?: readonly Nav[];
  /** The nav entry of this page (aria-current). */
  current?: string;
  /** One-shot messages (a session's, after a redirect). */
  flash?: readonly Flash[];
}

export function pageShell(options: ShellOptions, body: HtmlValue): Html {
  const nav = options.nav ?? [];
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${options.title} · otpgate</title>
<link rel="stylesheet" href="/assets/style.css">
<script src="/assets/app.js" defer></script>
</head>
<body>
<header class="top">
  <a class="brand" href="/">otpgate</a>
  ${options.tagline ? html`<span class="node">${options.tagline}</span>` : ''}
  ${options.account ?? ''}
</header>
${nav.length > 0
  ? html`<nav aria-label="Main"><ul>${nav.map(
      (n) => html`<li><a href="${n.href}"${n.href === options.current ? html` aria-current="page"` : ''}>${n.label}</a></li>`,
    )}</ul></nav>`
  : ''}
<main id="main">
<h1>${options.title}</h1>
${(options.flash ?? []).map((f) => html`<p class="flash ${f.kind}" role="${f.kind === 'error' ? 'alert' : 'status'}">${f.text}</p>`)}
${body}
</main>
</body>
</html>`;
}
