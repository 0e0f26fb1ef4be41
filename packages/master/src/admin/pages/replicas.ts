import type { FastifyInstance } from 'fastify';
import { ClusterFiles } from '@otpgate/core';
import { addReplica, isClusterInitialised, removeReplica } from '../../cluster-service.js';
import { masterStatus } from '../../cluster-status.js';
import { html } from '../../web/html.js';
import { actionButton, dataTable, formatTime } from '../layout.js';
import { csrfField, field } from '../../web/fields.js';
import type { Ui } from '../ui.js';
import { formText } from '../../web/form.js';

/** Replicas: enrol (the bundle downloads once), revoke, and each one's lag and last contact. */
export function registerReplicaPages(app: FastifyInstance, ui: Ui): void {
  const store = ui.deps.node.store;

  app.get(
    '/replicas',
    ui.view((ctx) => {
      const files = new ClusterFiles(store.dataDir);
      if (!isClusterInitialised(files)) {
        return ui.render(ctx, 'Replicas', '/replicas', html`<p>No cluster yet. On this node run <code>otpgate cluster init --host NAME</code>, then restart it.</p>`);
      }
      const s = masterStatus(store);
      return ui.render(
        ctx,
        'Replicas',
        '/replicas',
        html`<p>Replicas connect to <code>${s.master_url ?? ''}</code>; this master is at change ${s.head_seq}.</p>
${dataTable('Replicas', ['Replica', 'Health', 'Acknowledged', 'Lag (changes)', 'Lag (s)', 'Last contact', 'Address', 'Certificate expires', ''], s.replicas.map((r) => [
  r.name,
  html`<span class="${r.health === 'ok' ? 'good' : 'bad'}">${r.health}</span>`,
  String(r.acked_seq),
  String(r.lag_entries),
  String(r.lag_seconds),
  formatTime(r.last_contact_at),
  r.address ?? '-',
  formatTime(r.certificate_expires_at),
  r.health === 'revoked' ? '' : actionButton(ctx.session, `/replicas/${encodeURIComponent(r.name)}/revoke`, 'Revoke', { danger: true, confirm: `Revoke ${r.name}? It is refused from its next request on.` }),
]))}
<h2>Enrol a replica</h2>
<form method="post" action="/replicas">${csrfField(ctx.session)}<input type="hidden" name="_back" value="/replicas">
${field('Replica name', 'name', { required: true, hint: 'the bundle downloads now: it holds the replica\'s private key, copy it securely' })}
<div class="actions"><button type="submit">Enrol and download the bundle</button></div></form>`,
      );
    }),
  );

  app.post(
    '/replicas',
    ui.action(async (ctx) => {
      const name = formText(ctx.form, 'name');
      const bundle = await addReplica(store, new ClusterFiles(store.dataDir), name);
      ui.deps.audit.record(ctx.actor, 'cluster.add-replica', name);
      return { download: { filename: `${name}.otpgate-replica.json`, type: 'application/json', body: JSON.stringify(bundle, null, 2) } };
    }),
  );

  app.post(
    '/replicas/:name/revoke',
    ui.action((ctx) => {
      removeReplica(store, ctx.params.name!);
      ui.deps.audit.record(ctx.actor, 'cluster.remove-replica', ctx.params.name!);
      ctx.session.flash.push({ kind: 'ok', text: `Replica ${ctx.params.name} revoked.` });
      return { redirect: '/replicas' };
    }),
  );
}
