import { html, type Html, type HtmlValue } from '../web/html.js';
import type { AdminSession } from './sign-in.js';
import { CERTIFICATE_WARNING_DAYS } from './certificate.js';

export interface Nav {
  href: string;
  label: string;
}

export const MASTER_NAV: readonly Nav[] = [
  { href: '/', label: 'Dashboard' },
  { href: '/users', label: 'Users' },
  { href: '/hardware', label: 'Hardware tokens' },
  { href: '/groups', label: 'Groups' },
  { href: '/clients', label: 'RADIUS clients' },
  { href: '/backends', label: 'Backends' },
  { href: '/settings', label: 'Settings' },
  { href: '/replicas', label: 'Replicas' },
  { href: '/authlog', label: 'Authentication log' },
  { href: '/audit', label: 'Audit log' },
  { href: '/certificate', label: 'Certificate' },
  { href: '/imports', label: 'Imports' },
  { href: '/config', label: 'Config export/import' },
  { href: '/account', label: 'Account' },
];

export const REPLICA_NAV: readonly Nav[] = [{ href: '/', label: 'Status' }];

export interface PageOptions {
  title: string;
  session?: AdminSession;
  nav?: readonly Nav[];
  current?: string;
  /** The node, shown in the header: "otp1 (master)". */
  node?: string;
}

/** The page shell: one stylesheet and one script, both served by the node itself; no inline script or style. */
export function page(options: PageOptions, body: HtmlValue): Html {
  const flash = options.session?.flash.splice(0) ?? [];
  const nav = options.session ? (options.nav ?? []) : [];
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
  ${options.node ? html`<span class="node">${options.node}</span>` : ''}
  ${options.session
    ? html`<form method="post" action="/logout" class="signout">${csrfField(options.session)}<span>${options.session.subject}</span>
        <button type="submit">Sign out</button></form>`
    : ''}
</header>
${nav.length > 0
  ? html`<nav aria-label="Main"><ul>${nav.map(
      (n) => html`<li><a href="${n.href}"${n.href === options.current ? html` aria-current="page"` : ''}>${n.label}</a></li>`,
    )}</ul></nav>`
  : ''}
<main id="main">
<h1>${options.title}</h1>
${flash.map((f) => html`<p class="flash ${f.kind}" role="${f.kind === 'error' ? 'alert' : 'status'}">${f.text}</p>`)}
${body}
</main>
</body>
</html>`;
}

export function csrfField(session: AdminSession): Html {
  return html`<input type="hidden" name="_csrf" value="${session.csrf}">`;
}

/** A small form posting to `action` with the CSRF token, for buttons such as "Disable". */
export function actionButton(session: AdminSession, action: string, label: string, options: { danger?: boolean; confirm?: string } = {}): Html {
  return html`<form method="post" action="${action}" class="inline"${options.confirm ? html` data-confirm="${options.confirm}"` : ''}>${csrfField(session)}<button type="submit"${options.danger ? html` class="danger"` : ''}>${label}</button></form>`;
}

export interface FieldOptions {
  type?: string;
  value?: string | number | null;
  required?: boolean;
  hint?: string;
  autocomplete?: string;
  inputmode?: string;
  pattern?: string;
  placeholder?: string;
  /** The id of a <datalist> with suggestions. */
  list?: string;
}

/** A certificate's remaining validity, marked as a warning under CERTIFICATE_WARNING_DAYS. */
export function expiryBadge(daysLeft: number): Html {
  if (daysLeft < 0) return html`<span class="bad">expired</span>`;
  if (daysLeft < CERTIFICATE_WARNING_DAYS) return html`<span class="warn">expires in ${daysLeft} days: replace it</span>`;
  return html`<span class="good">valid for ${daysLeft} more days</span>`;
}

let fieldCounter = 0;

/** A labelled input; the hint is tied to it with aria-describedby. */
export function field(label: string, name: string, options: FieldOptions = {}): Html {
  const id = `f-${name.replace(/[^A-Za-z0-9_-]/g, '-')}-${++fieldCounter}`;
  const hintId = options.hint ? `${id}-hint` : undefined;
  return html`<div class="field"><label for="${id}">${label}</label>
<input id="${id}" name="${name}" type="${options.type ?? 'text'}"${options.value !== undefined && options.value !== null ? html` value="${String(options.value)}"` : ''}${options.required ? html` required` : ''}${options.autocomplete ? html` autocomplete="${options.autocomplete}"` : ''}${options.inputmode ? html` inputmode="${options.inputmode}"` : ''}${options.pattern ? html` pattern="${options.pattern}"` : ''}${options.placeholder ? html` placeholder="${options.placeholder}"` : ''}${options.list ? html` list="${options.list}"` : ''}${hintId ? html` aria-describedby="${hintId}"` : ''}>
${options.hint ? html`<small id="${hintId}">${options.hint}</small>` : ''}</div>`;
}

/** A labelled file upload (the form needs enctype="multipart/form-data"). */
export function fileField(label: string, name: string, options: { accept?: string; required?: boolean; hint?: string } = {}): Html {
  const id = `f-${name.replace(/[^A-Za-z0-9_-]/g, '-')}-${++fieldCounter}`;
  return html`<div class="field"><label for="${id}">${label}</label>
<input id="${id}" name="${name}" type="file"${options.accept ? html` accept="${options.accept}"` : ''}${options.required ? html` required` : ''}${options.hint ? html` aria-describedby="${id}-hint"` : ''}>
${options.hint ? html`<small id="${id}-hint">${options.hint}</small>` : ''}</div>`;
}

export function select(label: string, name: string, choices: ReadonlyArray<readonly [string, string]>, selected: string | undefined, hint?: string): Html {
  const id = `f-${name}-${++fieldCounter}`;
  return html`<div class="field"><label for="${id}">${label}</label>
<select id="${id}" name="${name}"${hint ? html` aria-describedby="${id}-hint"` : ''}>${choices.map(
    ([value, text]) => html`<option value="${value}"${value === selected ? html` selected` : ''}>${text}</option>`,
  )}</select>${hint ? html`<small id="${id}-hint">${hint}</small>` : ''}</div>`;
}

export function checkbox(label: string, name: string, checked: boolean, hint?: string): Html {
  const id = `f-${name}-${++fieldCounter}`;
  return html`<div class="field check"><input id="${id}" type="checkbox" name="${name}" value="on"${checked ? html` checked` : ''}${hint ? html` aria-describedby="${id}-hint"` : ''}>
<label for="${id}">${label}</label>${hint ? html`<small id="${id}-hint">${hint}</small>` : ''}</div>`;
}

export function textarea(label: string, name: string, value: string, options: { rows?: number; hint?: string } = {}): Html {
  const id = `f-${name}-${++fieldCounter}`;
  return html`<div class="field"><label for="${id}">${label}</label>
<textarea id="${id}" name="${name}" rows="${options.rows ?? 6}"${options.hint ? html` aria-describedby="${id}-hint"` : ''}>${value}</textarea>${options.hint ? html`<small id="${id}-hint">${options.hint}</small>` : ''}</div>`;
}

/** A problem list above a form. */
export function problems(list: readonly string[]): Html {
  if (list.length === 0) return html``;
  return html`<div class="problems" role="alert"><p>Please correct:</p><ul>${list.map((p) => html`<li>${p}</li>`)}</ul></div>`;
}

export function dataTable(caption: string, headers: readonly string[], rows: readonly HtmlValue[][]): Html {
  if (rows.length === 0) return html`<p class="empty">${caption}: none.</p>`;
  return html`<div class="table-wrap"><table><caption>${caption}</caption><thead><tr>${headers.map((h) => html`<th scope="col">${h}</th>`)}</tr></thead>
<tbody>${rows.map((r) => html`<tr>${r.map((c) => html`<td>${c}</td>`)}</tr>`)}</tbody></table></div>`;
}

export function formatTime(ms: number | null | undefined): string {
  return ms === null || ms === undefined ? '-' : new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z').replace('T', ' ');
}
