/** A Standard Webhooks receiver: every notice it asked for, POSTed as JSON with webhook-id, -timestamp and -signature. */
import { randomBytes } from 'node:crypto';
import type { NotifyConfig } from '@otpgate/shared';
import type { NotifyChannel } from './channel.js';
import { httpAgent, postJson } from './http.js';
import { webhookPayload } from './message.js';
import { signWebhook } from './webhook-signature.js';

type WebhookConfig = NotifyConfig['webhooks'][number];

export function webhookChannel(config: WebhookConfig, now: () => number = Date.now): NotifyChannel {
  const agent = httpAgent(config.timeout_ms);
  return {
    name: `webhook:${config.name}`,
    wants: (notice) => config.notices.includes(notice.kind),
    deliver: (notice) => {
      const id = `msg_${randomBytes(16).toString('base64url')}`;
      const timestamp = Math.floor(now() / 1000);
      const body = JSON.stringify(webhookPayload(notice));
      const headers = { 'webhook-id': id, 'webhook-timestamp': String(timestamp), 'webhook-signature': signWebhook(config.secret, id, timestamp, body) };
      return postJson(agent, config.url, body, headers, config.timeout_ms);
    },
    close: () => agent.close(),
  };
}
