import type { FastifyInstance } from 'fastify';
import { html } from '../../web/html.js';
import { dataTable, expiryBadge, formatTime } from '../layout.js';
import { csrfField, textarea } from '../../web/fields.js';
import { currentAdminCertificate, replaceAdminCertificate } from '../certificate.js';
import type { Ui } from '../ui.js';
import { uploadRoute } from '../../web/app.js';
import { UPLOADS } from '../../web/input-limits.js';
import { formText } from '../../web/form.js';

/** The admin UI's certificate: what it is, when it expires, and replacing it with the organisation's own. */
export function registerCertificatePages(app: FastifyInstance, ui: Ui): void {
  const dataDir = ui.deps.node.store.dataDir;

  app.get(
    '/certificate',
    ui.view((ctx) => {
      const cert = currentAdminCertificate(dataDir);
      return ui.render(
        ctx,
        'Certificate',
        '/certificate',
        html`${cert
          ? dataTable('Admin UI certificate', ['Item', 'Value'], [
              ['Subject', cert.subject],
              ['Issuer', cert.selfSigned ? `${cert.issuer} (self-signed)` : cert.issuer],
              ['Names', cert.names],
              ['Valid until', html`${formatTime(cert.validTo)} ${expiryBadge(cert.daysLeft)}`],
            ])
          : ''}
<h2>Replace it</h2>
<p>Paste or upload your certificate, its private key (not encrypted) and the intermediate chain (PEM). The new one is
used from the next start of the node (<code>systemctl restart otpgate</code>).</p>
<form method="post" action="/certificate" enctype="multipart/form-data">${csrfField(ctx.session)}
${textarea('Certificate (PEM)', 'certificate', '', { rows: 5 })}
<div class="field"><label for="certificate-file">or the certificate file</label><input id="certificate-file" type="file" name="certificate_file" accept=".pem,.crt,.cer"></div>
${textarea('Private key (PEM)', 'key', '', { rows: 5 })}
<div class="field"><label for="key-file">or the key file</label><input id="key-file" type="file" name="key_file" accept=".pem,.key"></div>
${textarea('Chain (PEM, optional)', 'chain', '', { rows: 5 })}
<div class="actions"><button type="submit">Install</button></div></form>`,
      );
    }),
  );

  uploadRoute(
    app,
    '/certificate',
    UPLOADS.certificate,
    ui.action((ctx) => {
      const pick = (text: string, file: string) => formText(ctx.form, text) || formText(ctx.form, file);
      const pem = { certificate: pick('certificate', 'certificate_file'), key: pick('key', 'key_file'), chain: formText(ctx.form, 'chain') };
      const info = replaceAdminCertificate(dataDir, pem, ui.deps.audit, ctx.actor);
      ctx.session.flash.push({ kind: 'ok', text: `Certificate for ${info.names || info.subject} installed; restart the node to use it.` });
      return { redirect: '/certificate' };
    }),
  );
}
