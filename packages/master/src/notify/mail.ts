/**
 * Mail over SMTP with nodemailer: a push to the user's own address (none known: no mail), an alert to notify.mail.admins.
 * starttls refuses a server that cannot upgrade (no credentials or links in the clear); tls speaks TLS from the start
 * (port 465); none is for a relay on the same host. Every phase (connect, greeting, each command) has the timeout.
 */
import { readFileSync } from 'node:fs';
import { createTransport } from 'nodemailer';
import type { Notice, NotifyConfig } from '@otpgate/shared';
import { errorMessage } from '@otpgate/shared';
import { DeliveryError, NotifyConfigError, type NotifyChannel } from './channel.js';
import { noticeText } from './message.js';

type MailConfig = NonNullable<NotifyConfig['mail']>;

/** Who gets this notice by mail. */
export function mailRecipients(config: Pick<MailConfig, 'admins'>, notice: Notice): string[] {
  if (notice.kind === 'alert') return config.admins;
  return notice.email ? [notice.email] : [];
}

function readCa(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new NotifyConfigError(`cannot read notify.mail.ca_file ${path}: ${errorMessage(err)}`, { cause: err });
  }
}

export function mailChannel(config: MailConfig): NotifyChannel {
  const transport = createTransport({
    host: config.host,
    port: config.port,
    secure: config.security === 'tls',
    requireTLS: config.security === 'starttls',
    ignoreTLS: config.security === 'none',
    auth: config.username && config.password ? { user: config.username, pass: config.password } : undefined,
    connectionTimeout: config.timeout_ms,
    greetingTimeout: config.timeout_ms,
    socketTimeout: config.timeout_ms,
    tls: { rejectUnauthorized: true, minVersion: 'TLSv1.2', ...(config.ca_file ? { ca: readCa(config.ca_file) } : {}) },
  });
  return {
    name: 'mail',
    wants: (notice) => mailRecipients(config, notice).length > 0,
    deliver: async (notice) => {
      const text = noticeText(notice);
      const body = text.click ? `${text.body}\n\n${text.click}\n` : `${text.body}\n`;
      try {
        await transport.sendMail({ from: config.from, to: mailRecipients(config, notice), subject: text.title, text: body });
      } catch (err) {
        // nodemailer's messages name the server and the SMTP reply, never the password
        throw new DeliveryError(errorMessage(err));
      }
    },
    close: () => {
      transport.close();
      return Promise.resolve();
    },
  };
}
