import type { FastifyInstance } from 'fastify';
import { InvalidInputError, canonicalJson } from '@otpgate/shared';
import { CONFIG_MIN_PASSPHRASE_LENGTH, VERSION, type ConfigImportPreview, type EntityChanges, type OpenedConfig } from '@otpgate/core';
import { html, type HtmlValue } from '../../web/html.js';
import { dataTable, formatTime } from '../layout.js';
import { checkbox, csrfField, field, fileField } from '../../web/fields.js';
import { PendingStore, inWebTerms } from '../pending.js';
import type { Ui } from '../ui.js';
import { uploadRoute } from '../../web/app.js';
import { UPLOADS } from '../../web/input-limits.js';
import { formChecked, formText, rawText } from '../../web/form.js';

/** Names listed per section and kind of change; the rest are counted. */
const NAMES_SHOWN = 25;

interface PendingConfig {
  opened: OpenedConfig;
  preview: ConfigImportPreview;
}

const pending = new PendingStore<PendingConfig>('config import');

function names(list: readonly string[]): HtmlValue {
  if (list.length === 0) return '0';
  const shown = list.slice(0, NAMES_SHOWN).join(', ');
  return html`${list.length}: ${shown}${list.length > NAMES_SHOWN ? ` … and ${list.length - NAMES_SHOWN} more` : ''}`;
}

function sectionRow(label: string, c: EntityChanges | undefined): HtmlValue[] {
  if (!c) return [label, html`<span class="empty">not in the document: left as they are</span>`, '', '', ''];
  return [label, names(c.new), names(c.changed), names(c.unchanged), c.removed.length > 0 ? html`<span class="warn">${names(c.removed)}</span>` : '0'];
}

function removedCount(p: ConfigImportPreview): number {
  return [p.groups, p.clients, p.users, p.tokens, p.hardware_tokens].reduce((n, c) => n + (c?.removed.length ?? 0), 0);
}

/**
 * Config export and import (`otpgate config export|import`): the export as a download; an uploaded document is
 * opened and dry-run first (kept in the admin's session, decrypted secrets included, never sent back to the
 * browser), then applied in one step when the admin confirms that very dry run.
 */
export function registerConfigPages(app: FastifyInstance, ui: Ui): void {
  const transfer = ui.deps.services.configTransfer;

  app.get(
    '/config',
    ui.view((ctx) => {
      const waiting = pending.get(ctx.session);
      return ui.render(
        ctx,
        'Config export and import',
        '/config',
        html`<p>Move the cluster's configuration to a new appliance or a new version: one JSON document with the
settings, backends, RADIUS clients and groups, and optionally the users, their tokens and the hardware inventory. A
checksum makes a damaged or edited file fail before anything else.</p>
${waiting ? html`<p class="flash ok" role="status">A dry run is waiting: <a href="/config/preview">review and apply it</a>.</p>` : ''}
<h2>Export</h2>
<form method="post" action="/config/export">${csrfField(ctx.session)}<input type="hidden" name="_back" value="/config">
${checkbox('Include users', 'with_users', false, 'their profiles and groups; with the secrets also their tokens, local password hashes and the hardware inventory')}
${checkbox('Include secrets', 'with_secrets', false, 'client secrets, backend passwords, token seeds and password hashes, encrypted under the passphrase (scrypt, AES-256-GCM)')}
${field('Passphrase for the secrets', 'passphrase', { type: 'password', autocomplete: 'new-password', hint: `at least ${CONFIG_MIN_PASSPHRASE_LENGTH} characters (a few random words are good); only with the secrets` })}
${field('Passphrase again', 'passphrase_again', { type: 'password', autocomplete: 'new-password' })}
<div class="actions"><button type="submit">Export (download)</button></div></form>
<p>Users alone, as a spreadsheet: <a href="/export/users.csv">export every user as CSV</a> (no secrets).</p>
<h2>Import</h2>
<p>Each section in the document replaces this node's: clients and groups not in it are removed, and users too when it
has users. Secrets left out of an export keep this node's. You see what would change before anything is written.</p>
<form method="post" action="/config/preview" enctype="multipart/form-data">${csrfField(ctx.session)}<input type="hidden" name="_back" value="/config">
${fileField('Config document (JSON)', 'document', { accept: '.json,application/json', required: true })}
${field('Passphrase of the document', 'passphrase', { type: 'password', autocomplete: 'off', hint: 'only when it was exported with the secrets' })}
<div class="actions"><button type="submit">Show what would change</button></div></form>`,
      );
    }),
  );

  app.post(
    '/config/export',
    ui.action(async (ctx) => {
      const withSecrets = formChecked(ctx.form, 'with_secrets');
      const passphrase = rawText(ctx.form, 'passphrase');
      if (!withSecrets && passphrase) {
        throw new InvalidInputError('a passphrase is only used with the secrets: tick "Include secrets", or leave the passphrase empty', 'passphrase');
      }
      if (withSecrets && passphrase !== rawText(ctx.form, 'passphrase_again')) throw new InvalidInputError('the two passphrases differ', 'passphrase');
      const document = await transfer.export(
        {
          users: formChecked(ctx.form, 'with_users'),
          secrets: withSecrets ? { passphrase } : undefined,
          generator: `otpgate ${VERSION} on ${ui.deps.node.name}`,
        },
        ctx.actor,
      );
      const day = new Date().toISOString().slice(0, 10);
      return {
        download: { filename: `otpgate-config-${ui.deps.node.name}-${day}.json`, type: 'application/json; charset=utf-8', body: JSON.stringify(document, null, 2) + '\n' },
      };
    }),
  );

  uploadRoute(
    app,
    '/config/preview',
    UPLOADS.config,
    ui.action(async (ctx) => {
      const text = formText(ctx.form, 'document');
      if (!text) throw new InvalidInputError('choose the exported document (a .json file); it was empty or missing', 'document');
      const passphrase = rawText(ctx.form, 'passphrase');
      const opened = await inWebTerms(() => transfer.open(text, passphrase === '' ? undefined : passphrase));
      pending.put(ctx.session, { opened, preview: transfer.preview(opened) });
      return { redirect: '/config/preview' };
    }),
  );

  app.get(
    '/config/preview',
    ui.view((ctx) => {
      const item = pending.get(ctx.session);
      if (!item) return { redirect: '/config' };
      const p = item.value.preview;
      const removed = removedCount(p);
      return ui.render(
        ctx,
        'Config import: what would change',
        '/config',
        html`<p><strong>Dry run: nothing has been written yet.</strong> Uploaded ${formatTime(item.at)}.</p>
${dataTable('Document', ['Item', 'Value'], [
  ['Exported', `${p.exported_at} by ${p.generator}`],
  ['Format version', p.migrations.length > 0 ? `${p.source_version}, migrated: ${p.migrations.join('; ')}` : String(p.source_version)],
  ['Secrets', p.secrets_included ? 'included (decrypted with your passphrase)' : 'not included: this node keeps its own'],
  ['Settings', p.settings.changed ? html`<span class="warn">changed</span> (${p.settings.sections.join(', ')})` : 'unchanged'],
])}
${dataTable('Changes per section', ['Section', 'New', 'Changed', 'Unchanged', 'Removed'], [
  sectionRow('Groups', p.groups),
  sectionRow('RADIUS clients', p.clients),
  sectionRow('Users', p.users),
  ...(p.users ? [sectionRow('Tokens', p.tokens), sectionRow('Hardware tokens', p.hardware_tokens)] : []),
])}
${p.warnings.length > 0 ? html`<h2>Warnings</h2><ul>${p.warnings.map((w) => html`<li class="warn">${w}</li>`)}</ul>` : ''}
<h2>Apply</h2>
${p.changes === 0
  ? html`<p>Nothing to change: this node already has this configuration.</p>`
  : html`<form method="post" action="/config/apply"${removed > 0 ? html` data-confirm="${`Apply the import? ${removed} entries will be removed.`}"` : ''}>${csrfField(ctx.session)}<input type="hidden" name="_back" value="/config/preview"><input type="hidden" name="preview" value="${item.id}">
<p>Makes these ${p.changes} changes in one transaction${removed > 0 ? html`, <span class="warn">removing ${removed} entries</span>` : ''}; they reach the replicas like any other change.</p>
<div class="actions"><button type="submit">Apply the import</button></div></form>`}
<form method="post" action="/config/discard">${csrfField(ctx.session)}<div class="actions"><button type="submit" class="secondary">Discard</button></div></form>`,
      );
    }),
  );

  app.post(
    '/config/apply',
    ui.action((ctx) => {
      const item = pending.current(ctx.session, formText(ctx.form, 'preview'));
      // the dry run again, right before applying (no await in between): the admin confirmed that one, not another
      const now = transfer.preview(item.value.opened);
      if (canonicalJson(now) !== canonicalJson(item.value.preview)) {
        pending.put(ctx.session, { opened: item.value.opened, preview: now });
        ctx.session.flash.push({ kind: 'error', text: 'Nothing was written: this node changed since the dry run, so the import would now do something else. Review the changes again, then apply.' });
        return { redirect: '/config/preview' };
      }
      const result = transfer.apply(item.value.opened, ctx.actor);
      pending.clear(ctx.session);
      ctx.session.flash.push({
        kind: 'ok',
        text: result.changes === 0 ? 'Nothing to change.' : `Imported: ${result.changes} changes applied in one transaction.${result.warnings.length > 0 ? ` ${result.warnings.join(' ')}` : ''}`,
      });
      return { redirect: '/config' };
    }),
  );

  app.post(
    '/config/discard',
    ui.action((ctx) => {
      pending.clear(ctx.session);
      ctx.session.flash.push({ kind: 'ok', text: 'Dry run discarded; nothing was written.' });
      return { redirect: '/config' };
    }),
  );
}
