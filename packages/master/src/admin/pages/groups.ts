import type { FastifyInstance } from 'fastify';
import { parseAttributeLines } from '@otpgate/core';
import { html } from '../../web/html.js';
import { actionButton, dataTable } from '../layout.js';
import { csrfField, field, textarea } from '../../web/fields.js';
import type { Ui } from '../ui.js';
import { formText } from '../../web/form.js';

/** Groups and their reply attributes, with the dictionary listed so admins pick names that exist. */
export function registerGroupPages(app: FastifyInstance, ui: Ui): void {
  const { services } = ui.deps;

  const attributeHelp = () => {
    const names = ui.deps.dictionary
      .list()
      .filter((a) => !a.encrypted)
      .map((a) => a.name);
    return html`<details><summary>Attributes this node knows (${names.length})</summary>
<p>Standard RADIUS attributes and vendor attributes (Fortinet, Cisco, Juniper, Palo Alto, Aruba, Microsoft, ...). Values
are checked against the attribute's type before saving: numbers, addresses, named values.</p>
<ul class="columns">${names.map((n) => html`<li><code>${n}</code></li>`)}</ul></details>`;
  };

  app.get(
    '/groups',
    ui.view((ctx) =>
      ui.render(
        ctx,
        'Groups',
        '/groups',
        html`${dataTable('Groups', ['Group', 'Reply attributes', 'Description'], services.groups.list().map((g) => [
          html`<a href="/groups/${encodeURIComponent(g.name)}">${g.name}</a>`,
          g.attributes.map((a) => `${a.name}=${a.value}`).join(', '),
          g.description,
        ]))}
<h2>Add a group</h2>
<form method="post" action="/groups">${csrfField(ctx.session)}
${field('Name', 'name', { required: true })}
${field('Description', 'description')}
${textarea('Reply attributes', 'attributes', '', { rows: 4, hint: 'one Name=value per line, e.g. Filter-Id=vpn-users, Class=0x6f75, Fortinet-Group-Name=staff' })}
<div class="actions"><button type="submit">Add group</button></div></form>
${attributeHelp()}`,
      ),
    ),
  );

  app.post(
    '/groups',
    ui.action((ctx) => {
      const g = services.groups.add(
        { name: formText(ctx.form, 'name'), description: formText(ctx.form, 'description'), attributes: parseAttributeLines(formText(ctx.form, 'attributes')) },
        ctx.actor,
      );
      ctx.session.flash.push({ kind: 'ok', text: `Group ${g.name} added.` });
      return { redirect: `/groups/${encodeURIComponent(g.name)}` };
    }),
  );

  app.get(
    '/groups/:name',
    ui.view((ctx) => {
      const g = services.groups.get(ctx.params.name!);
      const base = `/groups/${encodeURIComponent(g.name)}`;
      return ui.render(
        ctx,
        `Group ${g.name}`,
        '/groups',
        html`<form method="post" action="${base}">${csrfField(ctx.session)}<input type="hidden" name="_back" value="${base}">
${field('Description', 'description', { value: g.description })}
${textarea('Reply attributes', 'attributes', g.attributes.map((a) => `${a.name}=${a.value}`).join('\n'), { rows: 8, hint: 'one Name=value per line; tagged attributes as Tunnel-Type:1=VLAN' })}
<div class="actions"><button type="submit">Save</button></div></form>
<p><a href="/users?group=${encodeURIComponent(g.name)}">Members</a></p>
<div class="actions">${actionButton(ctx.session, `${base}/delete`, 'Delete group', { danger: true, confirm: `Delete group ${g.name}? Members stay, without it.` })}</div>
${attributeHelp()}`,
      );
    }),
  );

  app.post(
    '/groups/:name',
    ui.action((ctx) => {
      const g = services.groups.update(
        ctx.params.name!,
        { description: formText(ctx.form, 'description'), attributes: parseAttributeLines(formText(ctx.form, 'attributes')) },
        ctx.actor,
      );
      ctx.session.flash.push({ kind: 'ok', text: `Group ${g.name} saved.` });
      return { redirect: `/groups/${encodeURIComponent(g.name)}` };
    }),
  );

  app.post(
    '/groups/:name/delete',
    ui.action((ctx) => {
      services.groups.remove(ctx.params.name!, ctx.actor);
      ctx.session.flash.push({ kind: 'ok', text: `Group ${ctx.params.name} deleted.` });
      return { redirect: '/groups' };
    }),
  );
}
