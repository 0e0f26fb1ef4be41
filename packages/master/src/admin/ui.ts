import type { Readable } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ReadOnlyReplicaError, type NodeConfig, type ReplicaSelfStatus } from '@otpgate/shared';
import type { Actor, Dictionary, Logger, OtpgateNode, Services } from '@otpgate/core';
import { html, type Html, type HtmlValue } from '../web/html.js';
import { MASTER_NAV, REPLICA_NAV, page } from './layout.js';
import { safeNext } from '../web/safe-next.js';
import { sameToken, type SessionStore } from '../web/sessions.js';
import type { AdminSession } from './sign-in.js';
import type { SignInGuard } from '../web/signin-guard.js';
import type { AdminAuditService } from '@otpgate/core';
import { formOf, formText, type Form } from '../web/form.js';

export const SESSION_COOKIE = '__Host-otpgate-session';

export interface UiDeps {
  node: OtpgateNode;
  services: Services;
  dictionary: Dictionary;
  config: NodeConfig;
  logger: Logger;
  sessions: SessionStore<AdminSession['data']>;
  /** Why a session's admin is no longer one (undefined while they are): asked on every request. */
  sessionEnded: (session: AdminSession) => Promise<string | undefined>;
  guard: SignInGuard;
  audit: AdminAuditService;
  replicaView?: () => ReplicaSelfStatus;
}

/** One request as page code sees it. */
export interface PageContext {
  req: FastifyRequest;
  reply: FastifyReply;
  session: AdminSession;
  actor: Actor;
  form: Form;
  query: Record<string, string | undefined>;
  params: Record<string, string>;
}

export type PageResult = Html | { redirect: string } | { download: { filename: string; type: string; body: string | Buffer | Readable } };

/**
 * What every admin page needs: sessions, the CSRF check, the replica's refusal of the master's pages, rendering.
 * Route handlers stay small and only call the core services (the rules live there, not here); what they throw is
 * answered by the web app's error handler (web/app.ts), a form's error going back to the form (actionError).
 */
export class Ui {
  /** The requests running a form's action (signed in, CSRF token checked), with their session: for actionError. */
  private readonly actions = new WeakMap<FastifyRequest, AdminSession>();

  constructor(readonly deps: UiDeps) {}

  get role(): 'master' | 'replica' {
    return this.deps.node.store.role;
  }

  get masterUrl(): string {
    return this.deps.node.store.getMeta('master_url') ?? '';
  }

  /** The master's admin UI: its host from the replication URL, with this node's admin port (the usual setup). */
  masterAdminUrl(): string {
    const url = this.masterUrl;
    if (!url) return '';
    const parsed = new URL(url);
    parsed.port = String(this.deps.config.admin.listen[0]?.port ?? 8443);
    return `${parsed.origin}/`;
  }

  /**
   * How a replica answers the master's pages (web/app.ts masterOnlyPages): signed in, that it is a read-only replica
   * and where the master is; without a session nothing about the cluster, the same answer as for a page that does not
   * exist.
   */
  readonly refuseOnReplica = async (req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    if (await this.sessionOf(req)) throw new ReadOnlyReplicaError(this.masterUrl);
    reply.callNotFound();
    return reply;
  };

  /**
   * An onRequest hook of the master's pages: a form posted without a live session is refused before its body is
   * read, so only signed-in admins can make the node read an upload. (Sign-in and sign-out, outside those pages,
   * are posted without one.)
   */
  readonly sessionGate = async (req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> => {
    if (req.method !== 'POST' || (await this.sessionOf(req))) return undefined;
    return this.deny(reply, 403, 'Your session has ended', 'Sign in again, then repeat what you were doing.');
  };

  /**
   * The request's live session, checked against the admin account as it is now: a password set or an account removed
   * by another process or node, or a directory admin gone from the group, ends it here (audited, with the reason).
   */
  async sessionOf(req: FastifyRequest): Promise<AdminSession | undefined> {
    const session = this.deps.sessions.get(req.cookies[SESSION_COOKIE]);
    if (!session) return undefined;
    const ended = await this.deps.sessionEnded(session);
    if (ended === undefined) return session;
    this.deps.sessions.destroy(session.id);
    this.deps.audit.record({ name: session.subject, source: req.ip }, 'admin.session-ended', session.subject, { details: { reason: ended } });
    return undefined;
  }

  render(ctx: Pick<PageContext, 'session'>, title: string, current: string, body: HtmlValue): Html {
    return page(
      { title, session: ctx.session, nav: this.role === 'master' ? MASTER_NAV : REPLICA_NAV, current, node: `${this.deps.node.name} (${this.role})` },
      body,
    );
  }

  /** A GET page for signed-in admins. */
  view(handler: (ctx: PageContext) => PageResult | Promise<PageResult>) {
    return (req: FastifyRequest, reply: FastifyReply) => this.run(req, reply, false, handler);
  }

  /** A POST: signed in and CSRF token checked. */
  action(handler: (ctx: PageContext) => PageResult | Promise<PageResult>) {
    return (req: FastifyRequest, reply: FastifyReply) => this.run(req, reply, true, handler);
  }

  private async run(
    req: FastifyRequest,
    reply: FastifyReply,
    writes: boolean,
    handler: (ctx: PageContext) => PageResult | Promise<PageResult>,
  ) {
    const session = await this.sessionOf(req);
    if (!session) {
      if (writes) return this.deny(reply, 403, 'Your session has ended', 'Sign in again, then repeat what you were doing.');
      return reply.redirect(`/login?next=${encodeURIComponent(req.url)}`, 303);
    }
    const form = formOf(req.body);
    if (writes) {
      const token = formText(form, '_csrf') || (req.headers['x-csrf-token'] as string | undefined);
      if (!sameToken(token, session.csrf)) {
        this.deps.logger.warn({ event: 'admin-csrf-refused', admin: session.subject, path: req.url, from: req.ip }, 'admin UI refused a request without a valid CSRF token');
        return this.deny(reply, 403, 'Request refused', 'This form was not sent from an otpgate page of your session (missing or wrong CSRF token). Reload the page and try again.');
      }
      this.actions.set(req, session);
    }
    const ctx: PageContext = {
      req,
      reply,
      session,
      actor: { name: session.subject, source: req.ip },
      form,
      query: req.query as Record<string, string | undefined>,
      params: req.params as Record<string, string>,
    };
    // errors, typed or not, go to the web app's error handler (web/app.ts), which gives a form's back to actionError
    return this.respond(reply, await handler(ctx));
  }

  /**
   * The web app's actionError: an error a person can act on, raised by a form's action, goes back to where the form
   * was (its `_back` field, else the same address) as a message on that page.
   */
  readonly actionError = (req: FastifyRequest, reply: FastifyReply, message: string): FastifyReply | undefined => {
    const session = this.actions.get(req);
    if (!session) return undefined;
    session.flash.push({ kind: 'error', text: message });
    return reply.redirect(safeNext(formText(formOf(req.body), '_back'), req.url), 303);
  };

  respond(reply: FastifyReply, result: PageResult): FastifyReply {
    if (result instanceof Object && 'redirect' in result) return reply.redirect(result.redirect, 303);
    if (result instanceof Object && 'download' in result) {
      return reply
        .header('content-type', result.download.type)
        .header('content-disposition', `attachment; filename="${result.download.filename.replace(/[^A-Za-z0-9._-]/g, '_')}"`)
        .send(result.download.body);
    }
    return reply.type('text/html; charset=utf-8').send(result.value);
  }

  deny(reply: FastifyReply, status: number, title: string, message: string, masterUrl?: string): FastifyReply {
    return reply.code(status).type('text/html; charset=utf-8').send(this.errorPage(title, message, masterUrl).value);
  }

  /** A page saying why a request was refused (also the web app's error page). */
  errorPage(title: string, message: string, masterUrl?: string): Html {
    const body = html`<p class="flash error" role="alert">${message}</p>
${masterUrl ? html`<p>The master: <a href="${this.masterAdminUrl()}">${this.masterAdminUrl()}</a></p>` : ''}
<p><a href="/">Back to the start page</a></p>`;
    return page({ title }, body);
  }
}
