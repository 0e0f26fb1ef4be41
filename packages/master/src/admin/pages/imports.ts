import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { ConflictError, InvalidInputError } from '@otpgate/shared';
import { commitImportInThread, usersCsvChunks, pskFromHex, type ImportFormat, type ImportInput, type ImportPreview, type ImportResult, type ImportRow, type RowVerdict } from '@otpgate/core';
import { html, type Html } from '../../web/html.js';
import { dataTable, formatTime } from '../layout.js';
import { checkbox, csrfField, field, fileField, select } from '../../web/fields.js';
import { PendingStore, inWebTerms } from '../pending.js';
import type { Ui } from '../ui.js';
import { uploadRoute } from '../../web/app.js';
import { UPLOADS } from '../../web/input-limits.js';
import type { AdminSession } from '../sign-in.js';
import { type Form, formChecked, formText, rawText } from '../../web/form.js';

/** Rows other than errors listed in a preview (every error row is listed). */
export const PREVIEW_ROWS_SHOWN = 100;

const FORMATS: Record<ImportFormat, string> = {
  'azure-csv': 'Azure MFA OATH CSV',
  pskc: 'PSKC seed file',
  'users-csv': 'Users CSV',
};

const VERDICTS: Record<RowVerdict, { text: string; cls: string }> = {
  error: { text: 'error', cls: 'bad' },
  new: { text: 'new', cls: 'good' },
  update: { text: 'update', cls: 'good' },
  unchanged: { text: 'unchanged', cls: '' },
  skip: { text: 'skipped', cls: '' },
};

interface PendingImport {
  preview: ImportPreview;
  /** The options as chosen, in words ("strip domain: yes"). */
  options: string[];
  /** The file and options as uploaded: the commit plans them again, in a thread of its own. */
  input: ImportInput;
}

interface LastImport {
  format: ImportFormat;
  at: number;
  result: ImportResult;
}

const pending = new PendingStore<PendingImport>('import preview');
const lastResults = new WeakMap<AdminSession, LastImport>();

/** The upload and its options, as the import service takes them (the same options as `otpgate import ...`). */
function importInput(form: Form): { input: ImportInput; options: string[] } {
  const text = formText(form, 'file');
  const format = formText(form, 'format');
  if (!text) throw new InvalidInputError('choose a file to upload (it was empty or missing)', 'file');
  switch (format) {
    case 'azure-csv': {
      const stripDomain = formChecked(form, 'strip_domain');
      const domains = formText(form, 'domains').split(/[\s,;]+/).filter(Boolean);
      const unknownUser = formText(form, 'unknown_users') === 'inventory' ? 'inventory' : 'error';
      return {
        input: { format, text, options: { stripDomain, domains, unknownUser } },
        options: [
          `strip domain: ${stripDomain ? 'yes' : 'no'}`,
          ...(domains.length > 0 ? [`UPN domains stripped: ${domains.join(', ')}`] : []),
          `unknown users: ${unknownUser === 'inventory' ? 'into the inventory only' : 'errors'}`,
        ],
      };
    }
    case 'pskc': {
      const pskText = rawText(form, 'psk_hex');
      const passphrase = rawText(form, 'passphrase');
      if (pskText.trim() && passphrase) throw new InvalidInputError('give either the pre-shared key or the passphrase, not both');
      const psk = pskText.trim() ? pskFromHex(pskText) : undefined;
      return {
        input: { format, text, options: { psk, passphrase: passphrase || undefined } },
        options: [psk ? 'decrypted with the pre-shared key' : passphrase ? 'decrypted with the passphrase' : 'no key given'],
      };
    }
    case 'users-csv': {
      const createGroups = formChecked(form, 'create_groups');
      return { input: { format, text, options: { createGroups } }, options: [`create missing groups: ${createGroups ? 'yes' : 'no'}`] };
    }
    default:
      throw new InvalidInputError(`unknown import format "${format}"`, 'format');
  }
}

/** Every error row, then the first rows of the rest, in file order. */
export function rowsToShow(rows: readonly ImportRow[], othersShown = PREVIEW_ROWS_SHOWN): { shown: ImportRow[]; hidden: number } {
  const errors = rows.filter((r) => r.verdict === 'error');
  const others = rows.filter((r) => r.verdict !== 'error');
  return { shown: [...errors, ...others.slice(0, othersShown)], hidden: Math.max(0, others.length - othersShown) };
}

function resultText(result: ImportResult): string {
  const w = result.written;
  const left = result.counts.error > 0 ? `; ${result.counts.error} rows with errors left out` : '';
  return `${w.users} users, ${w.tokens} tokens, ${w.hardware_tokens} inventory entries, ${w.groups} groups written (${result.changes} changes, log head ${result.head_seq})${left}`;
}

/**
 * Imports of hardware tokens (Azure MFA OATH CSV, PSKC) and users (users CSV), as `otpgate import` does them: an
 * upload is previewed row by row and nothing is written; the preview stays in the admin's session and "Commit"
 * writes exactly it, all or nothing (the service refuses when the users or the inventory changed meanwhile).
 */
export function registerImportPages(app: FastifyInstance, ui: Ui): void {
  const { services } = ui.deps;
  const hidden = (format: ImportFormat) => html`<input type="hidden" name="format" value="${format}"><input type="hidden" name="_back" value="/imports">`;

  app.get(
    '/imports',
    ui.view((ctx) => {
      const waiting = pending.get(ctx.session);
      const last = lastResults.get(ctx.session);
      const form = (format: ImportFormat, fields: Html, button: string) =>
        html`<form method="post" action="/imports/preview" enctype="multipart/form-data">${csrfField(ctx.session)}${hidden(format)}
${fields}
<div class="actions"><button type="submit">${button}</button></div></form>`;
      return ui.render(
        ctx,
        'Imports',
        '/imports',
        html`<p>Every upload is first shown as a preview, one verdict per row, and nothing is written. Then
<strong>Commit</strong> writes exactly what the preview showed, all or nothing, in one transaction that reaches the
replicas like any other change (as <code>otpgate import ... --commit</code> does).</p>
${waiting ? html`<p class="flash ok" role="status">A preview of a ${FORMATS[waiting.value.preview.format]} is waiting: <a href="/imports/preview">review and commit it</a>.</p>` : ''}
${last
  ? html`<h2>Last import</h2>
${dataTable('Last import', ['Format', 'Committed', 'Rows', 'Written'], [[FORMATS[last.format], formatTime(last.at), String(last.result.counts.total), resultText(last.result)]])}`
  : ''}
<h2>Azure MFA OATH CSV</h2>
<p>Microsoft Entra's "OATH tokens" file: <code>upn,serial number,secret key,time interval,manufacturer,model</code>.
Each row becomes a hardware token in the inventory, assigned to the user the UPN names.</p>
${form(
  'azure-csv',
  html`${fileField('Azure CSV file', 'file', { accept: '.csv,text/csv', required: true })}
${checkbox('Strip the domain from UPNs', 'strip_domain', false, 'match alice@example.com to the user "alice" when no user has the full UPN')}
${field('UPN domains to strip', 'domains', { hint: 'only these domains (separated by commas); realms with "strip" always apply' })}
${select('Rows whose user does not exist', 'unknown_users', [['error', 'are errors'], ['inventory', 'go into the inventory only (unassigned)']], 'error')}`,
  'Preview the Azure CSV',
)}
<h2>PSKC seed file</h2>
<p>A token vendor's seed file (RFC 6030): plain, or encrypted under a pre-shared AES key or a passphrase. Every key
goes into the hardware token inventory.</p>
${form(
  'pskc',
  html`${fileField('PSKC file', 'file', { accept: '.xml,.pskc,.pskcxml', required: true })}
${field('Pre-shared key (hex)', 'psk_hex', { type: 'password', autocomplete: 'off', hint: '32, 48 or 64 hex digits, when the vendor encrypted the file with a key' })}
${field('Passphrase', 'passphrase', { type: 'password', autocomplete: 'off', hint: 'when the file is encrypted under a passphrase (PBKDF2)' })}`,
  'Preview the PSKC file',
)}
<h2>Users CSV</h2>
<p>Columns <code>username,display name,email,groups,token secret</code> (groups separated by ";", the token secret
base32 or hex and optional). New users are created without a local password; empty cells leave existing users'
fields as they are.</p>
${form(
  'users-csv',
  html`${fileField('Users CSV file', 'file', { accept: '.csv,text/csv', required: true })}
${checkbox('Create groups the file names that do not exist yet', 'create_groups', false)}`,
  'Preview the users CSV',
)}
<p><a href="/export/users.csv">Export every user as CSV</a> (no secrets).</p>`,
      );
    }),
  );

  uploadRoute(
    app,
    '/imports/preview',
    UPLOADS.import,
    ui.action(async (ctx) => {
      const { input, options } = importInput(ctx.form);
      const preview = await inWebTerms(() => services.imports.preview(input));
      pending.put(ctx.session, { preview, options, input });
      return { redirect: '/imports/preview' };
    }),
  );

  app.get(
    '/imports/preview',
    ui.view((ctx) => {
      const item = pending.get(ctx.session);
      if (!item) return { redirect: '/imports' };
      const { preview, options } = item.value;
      const c = preview.counts;
      const unit = preview.unit === 'line' ? 'Line' : 'Key package';
      const { shown, hidden: notShown } = rowsToShow(preview.rows);
      const writable = c.new + c.update;
      return ui.render(
        ctx,
        `Import preview: ${FORMATS[preview.format]}`,
        '/imports',
        html`<p><strong>Nothing has been written yet.</strong> Uploaded ${formatTime(item.at)}; ${options.join('; ')}.</p>
${dataTable('Verdicts', ['Rows', 'New', 'Update', 'Unchanged', 'Skipped', 'Errors'], [
  [String(c.total), String(c.new), String(c.update), String(c.unchanged), String(c.skip), c.error > 0 ? html`<span class="bad">${c.error}</span>` : '0'],
])}
${preview.notes.length > 0 ? html`<ul class="notes">${preview.notes.map((n) => html`<li>${n}</li>`)}</ul>` : ''}
${dataTable(c.error > 0 ? 'Rows, errors first' : 'Rows', [unit, 'Verdict', 'What', 'Reason'], shown.map((r) => [
  String(r.line),
  html`<span class="${VERDICTS[r.verdict].cls}">${VERDICTS[r.verdict].text}</span>`,
  r.summary,
  r.reason ?? '',
]))}
${notShown > 0 ? html`<p class="empty">Every error is listed, and the first ${PREVIEW_ROWS_SHOWN} of the other rows; ${notShown} more are not listed (<code>otpgate import ... --json</code> lists them all).</p>` : ''}
<h2>Commit</h2>
${writable === 0
  ? html`<p>Nothing to import: no row is new or an update.</p>`
  : html`<form method="post" action="/imports/commit">${csrfField(ctx.session)}<input type="hidden" name="_back" value="/imports/preview"><input type="hidden" name="preview" value="${item.id}">
<p>Writes the ${writable} new and updated rows of this preview, all or nothing.${c.error > 0 ? ` ${c.error} rows have errors: the import is refused unless they are left out.` : ''}</p>
${c.error > 0 ? checkbox('Skip error rows (import the others)', 'skip_errors', false, `leave out the ${c.error} rows with errors`) : ''}
<div class="actions"><button type="submit">Commit</button></div></form>`}
<form method="post" action="/imports/discard">${csrfField(ctx.session)}<div class="actions"><button type="submit" class="secondary">Discard this preview</button></div></form>`,
      );
    }),
  );

  app.post(
    '/imports/commit',
    ui.action(async (ctx) => {
      const item = pending.current(ctx.session, formText(ctx.form, 'preview'));
      let result: ImportResult;
      try {
        // planned again and written in a thread of its own: 100,000 users hold the write lock for seconds, which this
        // thread (metrics, the replication API, a stop) must not wait for; the preview's digest must still match
        const { input, preview } = item.value;
        const job = { input, actor: ctx.actor, expectDigest: preview.digest, skipErrors: formChecked(ctx.form, 'skip_errors') };
        result = await commitImportInThread(ui.deps.node.config, job, ui.deps.node.forwardLog);
      } catch (err) {
        // the store changed since the preview: this preview can never be committed, so it goes
        if (!(err instanceof ConflictError)) throw err;
        pending.clear(ctx.session);
        ctx.session.flash.push({ kind: 'error', text: `Nothing was written: ${err.message}.` });
        return { redirect: '/imports' };
      }
      pending.clear(ctx.session);
      lastResults.set(ctx.session, { format: result.format, at: Date.now(), result });
      ctx.session.flash.push({ kind: 'ok', text: `Imported: ${resultText(result)}.` });
      return { redirect: '/imports' };
    }),
  );

  app.post(
    '/imports/discard',
    ui.action((ctx) => {
      pending.clear(ctx.session);
      ctx.session.flash.push({ kind: 'ok', text: 'Preview discarded; nothing was written.' });
      return { redirect: '/imports' };
    }),
  );

  // every user as CSV without secrets, as `otpgate user export-csv` writes it
  app.get(
    '/export/users.csv',
    ui.view((ctx) => {
      // a page of users at a time, as the client takes them: the serving thread answers others between pages
      const csv = Readable.from(usersCsvChunks(ui.deps.node.store));
      ui.deps.audit.record(ctx.actor, 'user.export-csv', 'users');
      return { download: { filename: `otpgate-users-${ui.deps.node.name}-${new Date().toISOString().slice(0, 10)}.csv`, type: 'text/csv; charset=utf-8', body: csv } };
    }),
  );
}
