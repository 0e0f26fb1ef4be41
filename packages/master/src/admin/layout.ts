import { html, type Html, type HtmlValue } from '../web/html.js';
import { csrfField } from '../web/fields.js';
import { pageShell, type Nav } from '../web/page.js';
import type { AdminSession } from './sign-in.js';
import { CERTIFICATE_WARNING_DAYS } from './certificate.js';

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

/** An admin UI page: signed in, the navigation, the session's flash messages and a sign-out form. */
export function page(options: PageOptions, body: HtmlValue): Html {
  const session = options.session;
  return pageShell(
    {
      title: options.title,
      tagline: options.node,
      account: session
        ? html`<form method="post" action="/logout" class="signout">${csrfField(session)}<span>${session.subject}</span>
        <button type="submit">Sign out</button></form>`
        : undefined,
      nav: session ? options.nav : [],
      current: options.current,
      flash: session?.flash.splice(0),
    },
    body,
  );
}

/** A small form posting to `action` with the CSRF token, for buttons such as "Disable". */
export function actionButton(
  session: AdminSession,
  action: string,
  label: string,
  options: { danger?: boolean; confirm?: string; /** hidden fields: values too long for a path (a passkey's id) */ fields?: Record<string, string> } = {},
): Html {
  const hidden = Object.entries(options.fields ?? {}).map(([name, value]) => html`<input type="hidden" name="${name}" value="${value}">`);
  return html`<form method="post" action="${action}" class="inline"${options.confirm ? html` data-confirm="${options.confirm}"` : ''}>${csrfField(session)}${hidden}<button type="submit"${options.danger ? html` class="danger"` : ''}>${label}</button></form>`;
}

/** A certificate's remaining validity, marked as a warning under CERTIFICATE_WARNING_DAYS. */
export function expiryBadge(daysLeft: number): Html {
  if (daysLeft < 0) return html`<span class="bad">expired</span>`;
  if (daysLeft < CERTIFICATE_WARNING_DAYS) return html`<span class="warn">expires in ${daysLeft} days: replace it</span>`;
  return html`<span class="good">valid for ${daysLeft} more days</span>`;
}

export function dataTable(caption: string, headers: readonly string[], rows: readonly HtmlValue[][]): Html {
  if (rows.length === 0) return html`<p class="empty">${caption}: none.</p>`;
  return html`<div class="table-wrap"><table><caption>${caption}</caption><thead><tr>${headers.map((h) => html`<th scope="col">${h}</th>`)}</tr></thead>
<tbody>${rows.map((r) => html`<tr>${r.map((c) => html`<td>${c}</td>`)}</tr>`)}</tbody></table></div>`;
}

export { formatTime } from '@otpgate/shared';
