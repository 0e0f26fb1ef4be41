/**
 * createNotifier: the master's notification channels from the config's `notify` section (ntfy, webhooks, mail),
 * behind one Notifier. With no channel configured it still answers (it sends nothing): the push flow never checks.
 */
import type { NodeConfig } from '@otpgate/shared';
import type { Logger } from '@otpgate/core';
import type { Registry } from 'prom-client';
import type { NotifyChannel } from './channel.js';
import { mailChannel } from './mail.js';
import { ChannelNotifier } from './notifier.js';
import { ntfyChannel } from './ntfy.js';
import { webhookChannel } from './webhook.js';

export { ChannelNotifier } from './notifier.js';
export type { NotifyChannel } from './channel.js';

export function createNotifier(config: NodeConfig, logger: Logger, metrics: { registry: Registry }): ChannelNotifier {
  const notify = config.notify;
  const channels: NotifyChannel[] = [];
  if (notify.ntfy) channels.push(ntfyChannel(notify.ntfy));
  for (const webhook of notify.webhooks) channels.push(webhookChannel(webhook));
  if (notify.mail) channels.push(mailChannel(notify.mail));
  if (channels.length > 0) logger.info({ event: 'notify-channels', channels: channels.map((c) => c.name) }, `notification channels: ${channels.map((c) => c.name).join(', ')}`);
  return new ChannelNotifier(channels, { queueSize: notify.queue_size, logger, registry: metrics.registry });
}
