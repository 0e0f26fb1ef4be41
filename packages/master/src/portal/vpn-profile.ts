/**
 * The portal's side of VPN profiles: the choice of connection when a one-time credential is issued, and its helper
 * downloads (.mobileconfig, PowerShell). A download is a POST of the signed-in page (session cookie + CSRF field): the
 * credential is never in a URL, it is taken from the session that was shown it, and only while it is unused and
 * unexpired; the answer is never cached.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AdminAuditService, Services } from '@otpgate/core';
import { html, type Html } from '../web/html.js';
import { select } from '../web/fields.js';
import type { Session } from '../web/sessions.js';
import { accountPage } from './page.js';
import { MOBILECONFIG_TYPE, downloadName, mobileconfig, powershellScript } from './vpn-profile-files.js';

/** The credential a session was shown, kept in that session (memory only) for its downloads until it expires. */
export interface HeldCredential {
  password: string;
  client: string;
  expiresAt: number;
}

const DOWNLOADS = {
  mobileconfig: { label: 'Download for Apple devices (.mobileconfig)', type: MOBILECONFIG_TYPE, extension: 'mobileconfig', build: mobileconfig },
  windows: { label: 'Download for Windows (PowerShell)', type: 'text/plain; charset=utf-8', extension: 'ps1', build: powershellScript },
} as const;
type DownloadKind = keyof typeof DOWNLOADS;

/** The connection picker of the issue form: empty when no client has a profile (the credential then fits any client). */
export function vpnConnectionChoice(services: Services): Html | string {
  const profiles = services.vpnProfiles.list();
  if (profiles.length === 0) return '';
  return select('Connection', 'client', [...profiles.map((p) => [p.client, p.display_name] as const), ['', 'Other (no helper file)']], profiles[0]!.client, 'The password works only on this connection.');
}

/** The client the form picked, when it has a profile; undefined otherwise (a credential for any client). */
export function chosenClient(services: Services, picked: string): string | undefined {
  return picked !== '' && services.vpnProfiles.view(picked) ? picked : undefined;
}

/** The download buttons under a credential bound to a client with a profile. */
export function vpnDownloads(services: Services, session: Session<unknown>, client: string | null): Html | string {
  const profile = client === null ? undefined : services.vpnProfiles.view(client);
  if (!profile) return '';
  return html`<h2>Set up ${profile.display_name}</h2>
<p>Or let a file set up the connection with this password; it removes itself once the password has expired (Apple) or the connection ends (Windows).</p>
<div class="actions">${(Object.keys(DOWNLOADS) as DownloadKind[]).map(
    (kind) => html`<form method="post" action="/account/vpn-credential/${kind}"><input type="hidden" name="_csrf" value="${session.csrf}"><button type="submit" class="secondary">${DOWNLOADS[kind].label}</button></form> `,
  )}</div>`;
}

export interface VpnDownloadDeps {
  services: Services;
  audit: AdminAuditService;
  /** The signed-in session of a form post (cookie and CSRF field), or undefined. */
  formSession: (req: FastifyRequest) => (Session<unknown> & { data: { vpn?: HeldCredential } }) | undefined;
  send: (reply: FastifyReply, page: Html, status?: number) => FastifyReply;
}

export function registerVpnDownloads(app: FastifyInstance, deps: VpnDownloadDeps): void {
  const { services } = deps;
  app.post<{ Params: { kind: string } }>('/account/vpn-credential/:kind', (req, reply) => {
    const kind = req.params.kind;
    if (kind !== 'mobileconfig' && kind !== 'windows') return deps.send(reply, accountPage('Not found', html`<p><a href="/account">Back to your account</a></p>`), 404);
    const s = deps.formSession(req);
    if (!s) return reply.redirect('/account', 303);
    const held = s.data.vpn;
    if (!held || held.expiresAt <= Date.now() || !services.vpnCredentials.isLive(s.subject, held.password)) {
      delete s.data.vpn;
      return deps.send(reply, accountPage('This VPN password is spent', html`<p>It was used, or it expired. Get a new one: each works once.</p><p><a href="/account">Back to your account</a></p>`), 410);
    }
    const profile = services.vpnProfiles.get(held.client);
    if (!profile) return deps.send(reply, accountPage('No set-up file', html`<p>This connection has no set-up file any more: copy the user name and password instead.</p><p><a href="/account">Back to your account</a></p>`), 404);
    const download = DOWNLOADS[kind];
    deps.audit.record({ name: s.subject, source: req.ip }, 'portal.vpn-download', s.subject, { details: { client: held.client, kind } });
    return reply
      .header('cache-control', 'no-store')
      .header('content-disposition', `attachment; filename="${downloadName(profile, download.extension)}"`)
      .type(download.type)
      .send(download.build(profile, { username: s.subject, password: held.password, expiresAt: held.expiresAt }));
  });
}
