import type { FastifyInstance } from 'fastify';
import { AdminAuditService } from '@otpgate/core';
import { html } from '../../web/html.js';
import { dataTable, formatTime } from '../layout.js';
import { field, select } from '../../web/fields.js';
import type { Ui } from '../ui.js';

/** A record as the audit log keeps it (one long line of JSON): allowed to wrap anywhere, so the table fits the page. */
const json = (text: string | null) => (text ? html`<code class="json">${text}</code>` : '');

/** The authentication log and the admin audit log, filterable; the audit log also as CSV. */
export function registerLogPages(app: FastifyInstance, ui: Ui): void {
  const { services } = ui.deps;

  app.get(
    '/authlog',
    ui.view((ctx) => {
      const q = ctx.query;
      const result = ['accept', 'reject', 'challenge', 'drop'].includes(q.result ?? '') ? (q.result as 'accept') : undefined;
      const rows = services.authLog.list({ user: q.user || undefined, client: q.client || undefined, result, reason: q.reason || undefined, limit: 200 });
      return ui.render(
        ctx,
        'Authentication log',
        '/authlog',
        html`<form method="get" action="/authlog" class="filters" role="search">
${field('User', 'user', { value: q.user ?? '' })}
${field('Client', 'client', { value: q.client ?? '' })}
${select('Result', 'result', [['', 'any'], ['accept', 'accept'], ['reject', 'reject'], ['challenge', 'challenge'], ['drop', 'drop']], q.result)}
${field('Reason', 'reason', { value: q.reason ?? '' })}
<div class="actions"><button type="submit">Filter</button></div></form>
${dataTable('Recent requests (newest first)', ['Time', 'Node', 'User', 'Client', 'NAS-IP', 'Calling-Station-Id', 'Result', 'Reason', 'Backend', 'ms'], rows.map((r) => [
  formatTime(r.at), r.node, r.username, r.client, r.nas_ip, r.calling_station, r.policy ? `${r.result} (${r.policy})` : r.result, r.reason ?? '', r.backend ?? '', (r.latency_us / 1000).toFixed(1),
]))}`,
      );
    }),
  );

  const auditQuery = (q: Record<string, string | undefined>, limit: number) => ({ actor: q.actor || undefined, action: q.action || undefined, target: q.target || undefined, limit });

  app.get(
    '/audit',
    ui.view((ctx) => {
      const q = ctx.query;
      const rows = ui.deps.audit.list(auditQuery(q, 200));
      const csv = `/audit.csv?${new URLSearchParams(Object.entries(q).filter(([, v]) => v) as Array<[string, string]>)}`;
      return ui.render(
        ctx,
        'Audit log',
        '/audit',
        html`<form method="get" action="/audit" class="filters" role="search">
${field('Admin', 'actor', { value: q.actor ?? '' })}
${field('Action starts with', 'action', { value: q.action ?? '', hint: 'e.g. user. or client.add' })}
${field('Target', 'target', { value: q.target ?? '' })}
<div class="actions"><button type="submit">Filter</button></div></form>
<p><a href="${csv}">Export as CSV</a></p>
${dataTable('Admin actions (newest first)', ['Time', 'Admin', 'From', 'Action', 'Target', 'Before', 'After'], rows.map((r) => [
  formatTime(r.at), r.actor, r.source, r.action, r.target, json(r.before), json(r.after ?? r.details),
]))}`,
      );
    }),
  );

  app.get(
    '/audit.csv',
    ui.view((ctx) => ({
      download: { filename: 'otpgate-audit.csv', type: 'text/csv; charset=utf-8', body: AdminAuditService.csv(ui.deps.audit.list(auditQuery(ctx.query, 100_000))) },
    })),
  );
}
