import { describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { createLogger } from '@otpgate/core';
import { parseNodeConfig, type AccountAlert, type PushNotice } from '@otpgate/shared';
import { noticeText, webhookPayload } from '../src/notify/message.js';
import { ntfyMessage, ntfyTopic } from '../src/notify/ntfy.js';
import { mailRecipients } from '../src/notify/mail.js';
import { signWebhook, verifyWebhook } from '../src/notify/webhook-signature.js';
import { ChannelNotifier } from '../src/notify/notifier.js';
import { createNotifier } from '../src/notify/index.js';
import type { NotifyChannel } from '../src/notify/channel.js';

const push: PushNotice = {
  kind: 'push',
  user: 'alice',
  email: 'alice@example.test',
  approveUrl: 'https://vpn.example.test:9443/account/push/abc',
  client: 'vpn-gw',
  clientAddress: '192.0.2.10',
  number: '42',
  createdAt: new Date('2026-12-03T10:00:00Z'),
  expiresAt: new Date('2026-12-03T10:00:25Z'),
};
const alert: AccountAlert = { kind: 'alert', user: 'alice', reason: 'not-me', client: 'vpn-gw', clientAddress: '192.0.2.10', at: new Date('2026-12-03T10:00:10Z') };

describe('Standard Webhooks signature', () => {
  // the vector every Standard Webhooks library (and Svix's) tests against
  const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
  const id = 'msg_p5jXN8AQM9LWM0D4loKWxJek';
  const body = '{"test": 2432232314}';

  it('reproduces the reference vector', () => {
    expect(signWebhook(secret, id, 1614265330, body)).toBe('v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=');
  });

  it('a receiver accepts it within 5 minutes, among other signatures, and refuses a changed body, id, or an old timestamp', () => {
    const headers = { id, timestamp: '1614265330', signature: 'v1,bm9wZQ== v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=' };
    expect(verifyWebhook(secret, headers, body, 1614265330 + 299)).toBe(true);
    expect(verifyWebhook(secret, headers, body, 1614265330 + 301)).toBe(false);
    expect(verifyWebhook(secret, headers, '{"test": 2432232315}', 1614265330)).toBe(false);
    expect(verifyWebhook(secret, { ...headers, id: 'msg_other' }, body, 1614265330)).toBe(false);
    expect(verifyWebhook(secret, { ...headers, timestamp: '1614265330.5' }, body, 1614265330)).toBe(false);
  });
});

describe('notice text', () => {
  it('a push says who, through which client, until when, the number to pick, and links the approval page', () => {
    const text = noticeText(push);
    expect(text.title).toBe('Approve the VPN login of alice?');
    expect(text.body).toBe(
      'A login for alice through vpn-gw (192.0.2.10) at 2026-12-03T10:00:00Z waits for your approval until 2026-12-03T10:00:25Z. Pick the number 42 on the approval page. If it was not you, deny it.',
    );
    expect(text.click).toBe(push.approveUrl);
    expect(text.priority).toBe(4);
  });

  it('an alert names the user and where the refused login came from, urgent, with no link', () => {
    const text = noticeText(alert);
    expect(text.title).toBe('alice reported a login that was not theirs');
    expect(text.body).toContain('through vpn-gw (192.0.2.10)');
    expect(text.priority).toBe(5);
    expect(text.click).toBeUndefined();
  });

  it('line breaks and control characters in names cannot forge lines, and names are bounded', () => {
    const text = noticeText({ ...push, user: 'eve\r\nBcc: all@example.test', client: 'x'.repeat(500) });
    expect(text.title).toBe('Approve the VPN login of eve Bcc: all@example.test?');
    expect(text.body).not.toMatch(/[\r\n]/);
    expect(text.body).toContain(`${'x'.repeat(127)}…`);
    expect(text.body).not.toContain('x'.repeat(128));
  });

  it('the webhook body is the Standard Webhooks envelope with the notice as data', () => {
    expect(webhookPayload(push)).toMatchObject({ type: 'push.requested', timestamp: '2026-12-03T10:00:00.000Z', data: { user: 'alice', client: 'vpn-gw', number: '42', approve_url: push.approveUrl } });
    expect(webhookPayload(alert)).toMatchObject({ type: 'account.alert', data: { user: 'alice', reason: 'not-me' } });
  });
});

describe('ntfy and mail addressing', () => {
  it('a push goes to the user\'s topic (characters a topic cannot hold become "_"), an alert to the alert topic', () => {
    expect(ntfyTopic('otpgate-{user}', 'Alice.Smith@corp')).toBe('otpgate-Alice_Smith_corp');
    const message = ntfyMessage({ topic: 'otpgate-{user}', alert_topic: 'otpgate-admins' }, push);
    expect(message).toMatchObject({ topic: 'otpgate-alice', priority: 4, tags: ['lock'], click: push.approveUrl, actions: [{ action: 'view', url: push.approveUrl }] });
    expect(ntfyMessage({ topic: 'otpgate-{user}', alert_topic: 'otpgate-admins' }, alert)).toMatchObject({ topic: 'otpgate-admins', priority: 5 });
  });

  it('mail goes to the user for a push (none without an address), to the admins for an alert', () => {
    expect(mailRecipients({ admins: ['sec@example.test'] }, push)).toEqual(['alice@example.test']);
    expect(mailRecipients({ admins: ['sec@example.test'] }, { ...push, email: undefined })).toEqual([]);
    expect(mailRecipients({ admins: ['sec@example.test'] }, alert)).toEqual(['sec@example.test']);
  });
});

describe('notify config', () => {
  const parse = (yaml: string) => parseNodeConfig(yaml, 'test.yaml', '/etc/otpgate');

  it('has every channel off by default', () => {
    expect(parse('').notify).toEqual({ queue_size: 1000, webhooks: [] });
  });

  it('fills in defaults: the port by security, the topic template, timeouts', () => {
    const config = parse(`notify:
  ntfy: { server: "https://ntfy.example.test" }
  mail: { host: smtp.example.test, security: tls, from: otpgate@example.test }
  webhooks: [{ name: teams, url: "https://bridge.example.test/hook", secret: whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw }]`).notify;
    expect(config.ntfy).toEqual({ server: 'https://ntfy.example.test', topic: 'otpgate-{user}', timeout_ms: 5000 });
    expect(config.mail).toMatchObject({ port: 465, security: 'tls', admins: [], timeout_ms: 10_000 });
    expect(config.webhooks[0]).toMatchObject({ notices: ['push', 'alert'], timeout_ms: 5000 });
  });

  it('refuses a webhook secret that is not whsec_ + base64, two webhooks of one name, and a mail user without a password', () => {
    expect(() => parse('notify: { webhooks: [{ name: a, url: "https://x.test/", secret: "hunter2" }] }')).toThrow(/whsec_/);
    const hook = '{ name: a, url: "https://x.test/", secret: whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw }';
    expect(() => parse(`notify: { webhooks: [${hook}, ${hook}] }`)).toThrow(/used twice/);
    expect(() => parse('notify: { mail: { host: h, from: a@b.test, username: u } }')).toThrow(/both username and password/);
  });
});

describe('the notifier', () => {
  it('a mail CA file that cannot be read stops the start with the setting to fix', () => {
    const config = parseNodeConfig('notify: { mail: { host: h, from: a@b.test, ca_file: missing-ca.pem } }', 'test.yaml', '/nonexistent');
    expect(() => createNotifier(config, createLogger('silent', 'test'), { registry: new Registry() })).toThrow(/cannot read notify\.mail\.ca_file \/nonexistent\/missing-ca\.pem/);
  });

  const quiet = createLogger('silent', 'test');
  const channel = (name: string, deliver: NotifyChannel['deliver']): NotifyChannel => ({ name, wants: () => true, deliver, close: () => Promise.resolve() });

  it('a failing channel is counted and logged, never thrown, and the other channels still deliver', async () => {
    const registry = new Registry();
    const delivered: string[] = [];
    const notifier = new ChannelNotifier(
      [channel('broken', () => Promise.reject(new Error('the server answered HTTP 500'))), channel('good', (n) => Promise.resolve(void delivered.push(n.user)))],
      { queueSize: 10, logger: quiet, registry },
    );
    await expect(notifier.send(push)).resolves.toBeUndefined();
    expect(delivered).toEqual(['alice']);
    const metrics = await registry.getMetricsAsJSON();
    const values = metrics.find((m) => m.name === 'otpgate_notifications_total')?.values ?? [];
    expect(values.find((v) => v.labels.channel === 'broken' && v.labels.result === 'failed')?.value).toBe(1);
    expect(values.find((v) => v.labels.channel === 'good' && v.labels.result === 'sent')?.value).toBe(1);
  });

  it('past the queue size, deliveries are dropped and counted, and the queued ones still go out', async () => {
    const registry = new Registry();
    const releases: Array<() => void> = [];
    const notifier = new ChannelNotifier([channel('slow', () => new Promise<void>((resolve) => releases.push(resolve)))], { queueSize: 20, logger: quiet, registry });
    const sends = Array.from({ length: 25 }, () => notifier.send(push));
    // five over the cap were dropped at once
    await Promise.all(sends.slice(20));
    const values = () => registry.getMetricsAsJSON().then((m) => m.find((x) => x.name === 'otpgate_notifications_total')?.values ?? []);
    expect((await values()).find((v) => v.labels.result === 'dropped')?.value).toBe(5);
    // at most 16 at a time reach the channel; the rest wait their turn
    expect(releases.length).toBe(16);
    while (releases.length > 0) {
      releases.shift()?.();
      await new Promise((resolve) => setImmediate(resolve));
    }
    await Promise.all(sends);
    expect((await values()).find((v) => v.labels.result === 'sent')?.value).toBe(20);
  });
});
