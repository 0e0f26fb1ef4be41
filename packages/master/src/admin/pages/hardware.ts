import type { FastifyInstance } from 'fastify';
import { html } from '../../web/html.js';
import { actionButton, dataTable } from '../layout.js';
import { csrfField, field, select } from '../../web/fields.js';
import type { Ui } from '../ui.js';
import { formText } from '../../web/form.js';

/** The hardware token inventory: list and filter, add from the vendor's seed, see and change the assignment. */
export function registerHardwarePages(app: FastifyInstance, ui: Ui): void {
  const { services } = ui.deps;

  app.get(
    '/hardware',
    ui.view((ctx) => {
      const assigned = ctx.query.assigned === 'yes' ? true : ctx.query.assigned === 'no' ? false : undefined;
      const list = services.tokens.listHardware({ assigned, search: ctx.query.q || undefined });
      return ui.render(
        ctx,
        'Hardware tokens',
        '/hardware',
        html`<form method="get" action="/hardware" class="filters" role="search">
${field('Serial contains', 'q', { value: ctx.query.q ?? '' })}
${select('Assigned', 'assigned', [['', 'any'], ['yes', 'assigned'], ['no', 'in stock']], ctx.query.assigned)}
<div class="actions"><button type="submit">Filter</button></div></form>
${dataTable(`Inventory (${list.length})`, ['Serial', 'Type', 'Digits', 'Manufacturer', 'Model', 'Assigned to', 'Actions'], list.map((h) => [
  h.serial,
  `${h.kind.toUpperCase()} ${h.algorithm}${h.kind === 'totp' ? ` ${h.period}s` : ''}`,
  String(h.digits),
  h.manufacturer,
  h.model,
  h.assigned_to ? html`<a href="/users/${encodeURIComponent(h.assigned_to)}">${h.assigned_to}</a>` : 'in stock',
  h.assigned_to
    ? actionButton(ctx.session, `/hardware/${encodeURIComponent(h.serial)}/unassign`, 'Take back', { confirm: `Take ${h.serial} back from ${h.assigned_to}?` })
    : actionButton(ctx.session, `/hardware/${encodeURIComponent(h.serial)}/delete`, 'Delete', { danger: true, confirm: `Delete ${h.serial} from the inventory?` }),
]))}
<h2>Add a hardware token</h2>
<form method="post" action="/hardware">${csrfField(ctx.session)}<input type="hidden" name="_back" value="/hardware">
${field('Serial number', 'serial', { required: true })}
${field('Secret (seed)', 'secret', { type: 'password', required: true, autocomplete: 'off', hint: 'base32 or hex, from the vendor\'s seed file' })}
${select('Type', 'kind', [['totp', 'TOTP'], ['hotp', 'HOTP']], 'totp')}
${select('Algorithm', 'algorithm', [['SHA1', 'SHA-1'], ['SHA256', 'SHA-256'], ['SHA512', 'SHA-512']], 'SHA1')}
${select('Digits', 'digits', [['6', '6'], ['8', '8']], '6')}
${select('Time step', 'period', [['30', '30 s'], ['60', '60 s']], '30')}
${field('Manufacturer', 'manufacturer')}
${field('Model', 'model')}
<div class="actions"><button type="submit">Add to the inventory</button></div></form>`,
      );
    }),
  );

  app.post(
    '/hardware',
    ui.action((ctx) => {
      const f = ctx.form;
      const hw = services.tokens.addHardware(
        {
          serial: formText(f, 'serial'),
          secret: formText(f, 'secret'),
          kind: formText(f, 'kind') === 'hotp' ? 'hotp' : 'totp',
          algorithm: (['SHA256', 'SHA512'].includes(formText(f, 'algorithm')) ? formText(f, 'algorithm') : 'SHA1') as 'SHA1' | 'SHA256' | 'SHA512',
          digits: formText(f, 'digits') === '8' ? 8 : 6,
          period: formText(f, 'period') === '60' ? 60 : 30,
          manufacturer: formText(f, 'manufacturer'),
          model: formText(f, 'model'),
        },
        ctx.actor,
      );
      ctx.session.flash.push({ kind: 'ok', text: `Hardware token ${hw.serial} added to the inventory.` });
      return { redirect: '/hardware' };
    }),
  );

  app.post(
    '/hardware/:serial/unassign',
    ui.action((ctx) => {
      services.tokens.unassign(ctx.params.serial!, ctx.actor);
      ctx.session.flash.push({ kind: 'ok', text: `${ctx.params.serial} is back in the inventory.` });
      return { redirect: '/hardware' };
    }),
  );

  app.post(
    '/hardware/:serial/delete',
    ui.action((ctx) => {
      services.tokens.removeHardware(ctx.params.serial!, ctx.actor);
      ctx.session.flash.push({ kind: 'ok', text: `${ctx.params.serial} deleted.` });
      return { redirect: '/hardware' };
    }),
  );
}
