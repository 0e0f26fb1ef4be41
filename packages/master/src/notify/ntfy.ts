/**
 * ntfy (https://docs.ntfy.sh/publish/#publish-as-json): the JSON form, POSTed to the server's root, so titles and
 * messages in any script pass (the header form is Latin-1 only). A push goes to the user's topic (the template with
 * "{user}" replaced), an alert to alert_topic.
 */
import type { Notice, NotifyConfig } from '@otpgate/shared';
import type { NotifyChannel } from './channel.js';
import { httpAgent, postJson } from './http.js';
import { noticeText } from './message.js';

type NtfyConfig = NonNullable<NotifyConfig['ntfy']>;

/** The user's topic: characters ntfy does not take in a topic become "_". */
export function ntfyTopic(template: string, user: string): string {
  return template.replaceAll('{user}', user.replace(/[^A-Za-z0-9_-]/g, '_')).slice(0, 64);
}

/** The JSON ntfy publishes (pure, for the tests). */
export function ntfyMessage(config: Pick<NtfyConfig, 'topic' | 'alert_topic'>, notice: Notice): Record<string, unknown> {
  const text = noticeText(notice);
  const topic = notice.kind === 'push' ? ntfyTopic(config.topic, notice.user) : config.alert_topic;
  return {
    topic,
    title: text.title,
    message: text.body,
    priority: text.priority,
    tags: text.tags,
    ...(text.click ? { click: text.click, actions: [{ action: 'view', label: 'Open the approval page', url: text.click, clear: true }] } : {}),
  };
}

export function ntfyChannel(config: NtfyConfig): NotifyChannel {
  const agent = httpAgent(config.timeout_ms);
  const url = new URL('/', config.server).toString();
  const headers: Record<string, string> = config.token ? { authorization: `Bearer ${config.token}` } : {};
  return {
    name: 'ntfy',
    wants: (notice) => notice.kind === 'push' || config.alert_topic !== undefined,
    deliver: (notice) => postJson(agent, url, JSON.stringify(ntfyMessage(config, notice)), headers, config.timeout_ms),
    close: () => agent.close(),
  };
}
