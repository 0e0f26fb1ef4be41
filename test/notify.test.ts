/**
 * The notification channels against real receivers in this process: an SMTP server (smtp-server, STARTTLS and
 * AUTH required) whose mail mailparser reads, and an HTTP listener that checks ntfy's JSON and bearer token and
 * verifies each Standard Webhooks signature the way a receiver does (constant time, 5-minute tolerance).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SMTPServer } from 'smtp-server';
import { simpleParser, type ParsedMail } from 'mailparser';
import { Metrics, createLogger } from '@otpgate/core';
import { adminCertificateFiles, createNotifier, ensureAdminCertificate } from '@otpgate/master';
import { parseNodeConfig, type AccountAlert, type PushNotice } from '@otpgate/shared';
import { okOrThrow, otpgate } from './helpers/cli.js';
import { webhookSignatureValid } from './helpers/webhook-receiver.js';

const NTFY_TOKEN = 'tk_ntfy-test-token-0123456789';
const WEBHOOK_SECRET = `whsec_${Buffer.from('webhook-key-for-the-test-32-bytes!').toString('base64')}`;
const SMTP_PASSWORD = 'smtp-password-for-the-test';
/** Chat bridges put a token in the URL path: it must never reach a log. */
const HOOK_PATH = '/hook/T0KEN-in-the-url';
const APPROVE_URL = 'https://vpn.example.test/account/push/approval-id-never-logged';

const push: PushNotice = {
  kind: 'push',
  user: 'alice',
  email: 'alice@example.test',
  approveUrl: APPROVE_URL,
  client: 'vpn-gw',
  clientAddress: '192.0.2.10',
  number: '37',
  createdAt: new Date(),
  expiresAt: new Date(Date.now() + 25_000),
};
const alert: AccountAlert = { kind: 'alert', user: 'bob', reason: 'not-me', client: 'vpn-gw', clientAddress: '192.0.2.11', at: new Date() };

interface HttpReceived {
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
}


describe('notification channels (ntfy, Standard Webhooks, SMTP) against local receivers', () => {
  const dir = mkdtempSync(join(tmpdir(), 'otpgate-notify-'));
  const http: HttpReceived[] = [];
  const mails: Array<{ mail: ParsedMail; secure: boolean; user: string | undefined }> = [];
  const logLines: string[] = [];
  let httpServer: Server;
  let smtp: SMTPServer;
  let httpPort = 0;
  let smtpPort = 0;

  beforeAll(async () => {
    await ensureAdminCertificate(dir, ['localhost', '127.0.0.1']);
    const tls = adminCertificateFiles(dir);
    httpServer = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        http.push({ path: req.url ?? '', headers: req.headers, body });
        if (req.url === '/broken') res.writeHead(500).end();
        else if (req.url === '/silent') return; // never answers
        else if (req.url === HOOK_PATH && !webhookSignatureValid(WEBHOOK_SECRET, req.headers, body)) res.writeHead(401).end();
        else if (req.url === '/' && req.headers.authorization !== `Bearer ${NTFY_TOKEN}`) res.writeHead(403).end();
        else res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
    httpPort = (httpServer.address() as { port: number }).port;

    smtp = new SMTPServer({
      secure: false,
      key: readFileSync(tls.key),
      cert: readFileSync(tls.cert),
      authMethods: ['PLAIN', 'LOGIN'],
      // AUTH only after STARTTLS (the server's default), so a sent mail proves the upgrade
      onAuth: (auth, _session, callback) =>
        auth.username === 'otpgate' && auth.password === SMTP_PASSWORD ? callback(null, { user: auth.username }) : callback(new Error('bad credentials')),
      onData: (stream, session, callback) => {
        simpleParser(stream)
          .then((mail) => {
            mails.push({ mail, secure: session.secure === true, user: session.user as string | undefined });
            callback();
          })
          .catch(callback);
      },
      logger: false,
    });
    await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve));
    smtpPort = (smtp.server.address() as { port: number }).port;
  });

  afterAll(async () => {
    httpServer?.closeAllConnections();
    await new Promise((resolve) => httpServer?.close(resolve));
    await new Promise<void>((resolve) => smtp?.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  });

  function notifier(notify: string) {
    const config = parseNodeConfig(`notify:\n${notify}`, 'test.yaml', dir);
    const logger = createLogger('debug', 'test', { write: (line: string) => void logLines.push(line) });
    const { registry } = new Metrics();
    return { notifier: createNotifier(config, logger, { registry }), registry };
  }

  const counts = async (registry: Metrics['registry']) =>
    Object.fromEntries(
      ((await registry.getMetricsAsJSON()).find((m) => m.name === 'otpgate_notifications_total')?.values ?? [])
        .filter((v) => v.value > 0)
        .map((v) => [`${v.labels.channel}/${v.labels.result}`, v.value]),
    );

  it('delivers a push to ntfy (JSON, bearer token), a signed webhook and the user\'s mail, and an alert to the admins', async () => {
    const { notifier: n, registry } = notifier(`  ntfy: { server: "http://127.0.0.1:${httpPort}", token: ${NTFY_TOKEN}, alert_topic: otpgate-admins }
  webhooks: [{ name: chat, url: "http://127.0.0.1:${httpPort}${HOOK_PATH}", secret: "${WEBHOOK_SECRET}" }]
  mail: { host: 127.0.0.1, port: ${smtpPort}, security: starttls, username: otpgate, password: ${SMTP_PASSWORD}, from: otpgate@example.test, admins: [sec@example.test], ca_file: ${adminCertificateFiles(dir).cert} }
`);
    await n.send(push);
    await n.send(alert);
    await n.close();

    const ntfy = http.filter((r) => r.path === '/').map((r) => JSON.parse(r.body) as Record<string, unknown>);
    expect(ntfy).toHaveLength(2);
    expect(ntfy[0]).toMatchObject({ topic: 'otpgate-alice', title: 'Approve the VPN login of alice?', priority: 4, click: APPROVE_URL, actions: [{ action: 'view', url: APPROVE_URL }] });
    expect(ntfy[0]!.message).toContain('Pick the number 37');
    expect(ntfy[1]).toMatchObject({ topic: 'otpgate-admins', priority: 5 });

    const hooks = http.filter((r) => r.path === HOOK_PATH);
    expect(hooks).toHaveLength(2);
    for (const hook of hooks) expect(webhookSignatureValid(WEBHOOK_SECRET, hook.headers, hook.body)).toBe(true);
    expect(new Set(hooks.map((h) => h.headers['webhook-id'])).size).toBe(2);
    expect(JSON.parse(hooks[0]!.body)).toMatchObject({ type: 'push.requested', data: { user: 'alice', number: '37', approve_url: APPROVE_URL } });
    expect(JSON.parse(hooks[1]!.body)).toMatchObject({ type: 'account.alert', data: { user: 'bob', reason: 'not-me' } });

    expect(mails).toHaveLength(2);
    const [toUser, toAdmins] = mails;
    expect(toUser).toMatchObject({ secure: true, user: 'otpgate' });
    expect(toUser!.mail.subject).toBe('Approve the VPN login of alice?');
    expect(toUser!.mail.to).toMatchObject({ text: 'alice@example.test' });
    expect(toUser!.mail.text).toContain(APPROVE_URL);
    expect(toAdmins!.mail.to).toMatchObject({ text: 'sec@example.test' });
    expect(toAdmins!.mail.subject).toBe('bob reported a login that was not theirs');

    expect(await counts(registry)).toEqual({ 'ntfy/sent': 2, 'webhook:chat/sent': 2, 'mail/sent': 2 });
  });

  it('a receiver that fails, one that never answers and a wrong token are each one log line and a metric; send never throws, and no log holds a secret, URL or approval link', async () => {
    logLines.length = 0;
    const { notifier: n, registry } = notifier(`  ntfy: { server: "http://127.0.0.1:${httpPort}", token: wrong-token-000000 }
  webhooks:
    - { name: broken, url: "http://127.0.0.1:${httpPort}/broken", secret: "${WEBHOOK_SECRET}" }
    - { name: silent, url: "http://127.0.0.1:${httpPort}/silent", secret: "${WEBHOOK_SECRET}", timeout_ms: 300 }
  mail: { host: 127.0.0.1, port: ${smtpPort}, security: starttls, username: otpgate, password: not-${SMTP_PASSWORD}, from: otpgate@example.test, ca_file: ${adminCertificateFiles(dir).cert} }
`);
    await expect(n.send(push)).resolves.toBeUndefined();
    await n.close();
    expect(await counts(registry)).toEqual({ 'ntfy/failed': 1, 'webhook:broken/failed': 1, 'webhook:silent/failed': 1, 'mail/failed': 1 });
    const failures = logLines.map((l) => JSON.parse(l) as { event?: string; channel?: string; msg: string }).filter((l) => l.event === 'notify-failed');
    expect(failures.map((l) => l.channel).sort()).toEqual(['mail', 'ntfy', 'webhook:broken', 'webhook:silent']);
    expect(failures.find((l) => l.channel === 'ntfy')?.msg).toContain('HTTP 403');
    expect(failures.find((l) => l.channel === 'webhook:silent')?.msg).toContain('no answer within 300 ms');
    const all = logLines.join('\n');
    for (const secret of ['wrong-token-000000', WEBHOOK_SECRET, WEBHOOK_SECRET.slice(6), SMTP_PASSWORD, '/broken', HOOK_PATH, APPROVE_URL, 'approval-id-never-logged']) {
      expect(all).not.toContain(secret);
    }
  });

  it('`otpgate config check` shows the channels\' token, signing secret and password as set, never their values', async () => {
    const file = join(dir, 'notify.yaml');
    writeFileSync(
      file,
      `notify:\n  ntfy: { server: "https://ntfy.example.test", token: ${NTFY_TOKEN} }\n  webhooks: [{ name: chat, url: "https://x.test/", secret: "${WEBHOOK_SECRET}" }]\n  mail: { host: smtp.example.test, username: otpgate, password: ${SMTP_PASSWORD}, from: otpgate@example.test }\n`,
    );
    const args = ['config', 'check', file];
    const out = okOrThrow(args, await otpgate(args));
    const notify = (JSON.parse(out.slice(out.indexOf('{'))) as { notify: Record<string, unknown> }).notify;
    expect(notify).toMatchObject({ ntfy: { token: '[set]' }, webhooks: [{ secret: '[set]' }], mail: { password: '[set]' } });
    for (const secret of [NTFY_TOKEN, WEBHOOK_SECRET, SMTP_PASSWORD]) expect(out).not.toContain(secret);
  });

  it('with no channel configured a notice goes nowhere, quietly', async () => {
    const { notifier: n, registry } = notifier('  webhooks: []\n');
    await expect(n.send(alert)).resolves.toBeUndefined();
    expect(await counts(registry)).toEqual({});
  });
});
