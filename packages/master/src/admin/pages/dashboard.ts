import type { FastifyInstance } from 'fastify';
import { REJECT_REASON_TEXT, type RejectReason } from '@otpgate/shared';
import type { AuthTimeline } from '@otpgate/core';
import { masterStatus } from '../../cluster-status.js';
import { html } from '../../web/html.js';
import { dataTable, expiryBadge, formatTime } from '../layout.js';
import { currentAdminCertificate } from '../certificate.js';
import { timelineCharts } from '../charts.js';
import type { Ui } from '../ui.js';

function expiry(label: string, ms: number | null | undefined) {
  if (ms === null || ms === undefined) return html``;
  return html`<li>${label}: ${expiryBadge(Math.floor((ms - Date.now()) / 86_400_000))} (${formatTime(ms)})</li>`;
}

type BackendCounts = { backend: string; accepts: number; rejects: number; errors: number };

/**
 * Every configured backend, with the last hour's answers: an idle one is listed too (with a link to test it), since a
 * backup directory that is down shows no errors until the first request falls back to it.
 */
function backendRows(ui: Ui, counts: readonly BackendCounts[]) {
  const byName = new Map(counts.map((c) => [c.backend, c]));
  const configured = ui.deps.services.backends.list().map((b) => ({ name: b.name, testable: b.type !== 'local' }));
  const gone = counts.filter((c) => !configured.some((b) => b.name === c.backend)).map((c) => ({ name: c.backend, testable: false }));
  return [...configured, ...gone].map(({ name, testable }) => {
    const c = byName.get(name) ?? { backend: name, accepts: 0, rejects: 0, errors: 0 };
    const test = testable ? html` (<a href="/backends/${encodeURIComponent(name)}">test connection</a>)` : html``;
    const state =
      c.errors > 0
        ? html`<span class="bad">could not answer ${c.errors} times</span>${test}`
        : c.accepts + c.rejects > 0
          ? html`<span class="good">answering</span>`
          : html`no requests in the last hour${test}`;
    return [name, String(c.accepts), String(c.rejects), c.errors > 0 ? html`<span class="bad">${c.errors}</span>` : '0', state];
  });
}

/**
 * The last day's requests per 5 minutes: this node's alone, or, once replicas report theirs, the whole cluster's and
 * then each node's.
 */
function requestCharts(node: string, timeline: AuthTimeline) {
  const { from, buckets } = timeline;
  const replicas = timeline.replicas.map((r, i) => ({ id: `chart-replica-${i}`, title: `${r.replica} (replica)`, from, buckets, counts: r.counts }));
  if (replicas.length === 0) return timelineCharts([{ id: 'chart-node', title: node, from, buckets, counts: timeline.local }]);
  const all = [...timeline.local, ...timeline.replicas.flatMap((r) => r.counts)];
  return timelineCharts([
    { id: 'chart-all', title: 'all nodes', from, buckets, counts: all },
    { id: 'chart-node', title: `${node} (master)`, from, buckets, counts: timeline.local },
    ...replicas,
  ]);
}

/**
 * The start page: on the master the last day's requests per 5 minutes (charts), the last hour of authentications,
 * backends, replicas, certificates; on a replica its status.
 */
export function registerDashboard(app: FastifyInstance, ui: Ui): void {
  app.get(
    '/',
    ui.view((ctx) => {
      const store = ui.deps.node.store;
      if (ui.role === 'replica') {
        const s = ui.deps.replicaView!();
        const masterAdmin = ui.masterAdminUrl();
        return ui.render(
          ctx,
          'Replica status',
          '/',
          html`<p>This node is a <strong>read-only replica</strong>. Users, tokens and settings are changed on the master:
<a href="${masterAdmin}">${masterAdmin}</a>.</p>
${dataTable('Replication', ['Item', 'Value'], [
  ['Role', 'replica'],
  ['Replica name', s.name ?? '-'],
  ['Master', html`<a href="${masterAdmin}">${s.master_url ?? '-'}</a>`],
  ['Last applied change', String(s.applied_seq)],
  ['Master at change', s.master_head_seq === null ? '-' : String(s.master_head_seq)],
  ['Lag (changes)', s.lag_entries === null ? '-' : String(s.lag_entries)],
  ['Last contact', s.last_contact_at === null ? 'never' : `${formatTime(s.last_contact_at)} (${s.seconds_since_contact} s ago)`],
  ['Health', html`<span class="${s.healthy ? 'good' : s.ready ? 'warn' : 'bad'}">${s.healthy ? 'healthy' : s.ready ? 'degraded (still ready)' : 'not ready'}</span>: ${s.health_detail}`],
  ['Last error', s.last_error ?? '-'],
])}`,
        );
      }
      const summary = ui.deps.services.authLog.summary(Date.now() - 3_600_000);
      const cluster = masterStatus(store);
      const cert = currentAdminCertificate(store.dataDir);
      const r = summary.results;
      return ui.render(
        ctx,
        'Dashboard',
        '/',
        html`<h2>Last 24 hours</h2>
${requestCharts(ui.deps.node.name, ui.deps.services.authLog.timeline())}
<h2>Last hour</h2>
<div class="cards">
  <div class="card"><div class="figure">${r.accept ?? 0}</div>accepted</div>
  <div class="card"><div class="figure">${r.reject ?? 0}</div>rejected</div>
  <div class="card"><div class="figure">${r.challenge ?? 0}</div>challenged</div>
  <div class="card"><div class="figure">${r.drop ?? 0}</div>dropped</div>
</div>
${dataTable('Rejects by reason', ['Reason', 'Meaning', 'Count'], summary.reasons.map((x) => [x.reason, REJECT_REASON_TEXT[x.reason as RejectReason] ?? '', String(x.count)]))}
${dataTable('Most rejected users', ['User', 'Rejects'], summary.topRejectedUsers.map((x) => [html`<a href="/users/${encodeURIComponent(x.username)}">${x.username}</a>`, String(x.count)]))}
${dataTable('Most rejected clients', ['Client', 'Rejects'], summary.topRejectedClients.map((x) => [x.client, String(x.count)]))}
<h2>Backends</h2>
${dataTable('Password checks by backend (last hour)', ['Backend', 'Accepted', 'Rejected', 'Could not answer', 'State'], backendRows(ui, summary.backends))}
<h2>Replicas</h2>
${dataTable('Replicas', ['Replica', 'Health', 'Acknowledged change', 'Lag (changes)', 'Lag (s)', 'Last contact'], cluster.replicas.map((x) => [
  x.name,
  html`<span class="${x.health === 'ok' ? 'good' : 'bad'}">${x.health}</span>`,
  String(x.acked_seq),
  String(x.lag_entries),
  String(x.lag_seconds),
  formatTime(x.last_contact_at),
]))}
<h2>Certificates</h2>
<ul>
${expiry('Admin UI certificate', cert?.validTo)}
${expiry('Replication API certificate', cluster.server_certificate_expires_at)}
</ul>`,
      );
    }),
  );
}
