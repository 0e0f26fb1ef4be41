import type { FastifyInstance } from 'fastify';
import { hostname } from 'node:os';
import type { NodeConfig } from '@otpgate/shared';
import { AdminAuditService, PushService, createServices, loadDictionary, passkeyRequired, type OtpgateNode } from '@otpgate/core';
import { ensureAdminCertificate } from '../admin/certificate.js';
import { SessionStore } from '../web/sessions.js';
import { SignInGuard } from '../web/signin-guard.js';
import { createWebApp, listenWeb, webTls } from '../web/app.js';
import { refusedPortalPage, registerPortal, type PortalData } from './portal.js';
import { createAccountState, registerAccount } from '../portal/account.js';
import { createNotifier, type ChannelNotifier } from '../notify/index.js';
import { pendingPushesSection, registerPushPages } from '../portal/push.js';
import { loggedNotifier } from '../portal/log-notifier.js';

/**
 * The self-service enrollment portal's HTTPS server (enrollment.listen, default 9443). Off unless enabled, and never
 * started on a replica: a replica cannot create tokens.
 */
export class EnrollmentServer {
  private constructor(
    private readonly apps: FastifyInstance[],
    /** The notification channels (notify.*) for the push flow and admin alerts. */
    readonly notifier: ChannelNotifier,
    private readonly pushes: PushService,
  ) {}

  static async start(node: OtpgateNode, config: NodeConfig): Promise<EnrollmentServer> {
    if (node.store.role !== 'master') throw new Error('the enrollment portal runs on the master only');
    await ensureAdminCertificate(node.store.dataDir);
    const tls = webTls(node.store.dataDir);
    const minutes = config.enrollment.session_minutes * 60_000;
    const deps = {
      node,
      services: createServices({ store: node.store, dictionary: loadDictionary(config.radius.dictionaries), logger: node.logger }),
      config,
      sessions: new SessionStore<PortalData>({ name: 'portal_sessions', idleMs: minutes, absoluteMs: minutes, meter: node.metrics }),
      guard: new SignInGuard({ name: 'portal', meter: node.metrics }),
      audit: new AdminAuditService(node.store, node.logger),
      notifier: createNotifier(config, node.logger, node.metrics),
    };
    const account = createAccountState(deps);
    const firstPort = config.enrollment.listen[0]?.port ?? 9443;
    const pushes = new PushService({
      store: node.store,
      logger: node.logger,
      audit: deps.audit,
      notifier: loggedNotifier(node.logger, deps.notifier),
      portalUrl: config.portal.origin ?? `https://${hostname()}:${firstPort}`,
    });
    const pushDeps = {
      services: deps.services,
      pushes,
      requiresPasskey: (username: string) => {
        const user = node.repository.findUser(username);
        return user !== undefined && passkeyRequired(user, node.settings);
      },
    };
    account.pendingPushes = (username) => pendingPushesSection(pushDeps, username);
    const apps: FastifyInstance[] = [];
    for (const address of config.enrollment.listen) {
      const app = await createWebApp(tls, {
        what: 'enrollment portal',
        allow: config.enrollment.allow,
        allowSetting: 'enrollment.allow',
        logger: node.logger,
        errorPage: (refusal) => refusedPortalPage(refusal.title, refusal.message).value,
        writeLock: node.store.db,
      });
      registerPortal(app, deps);
      registerAccount(app, deps, account);
      registerPushPages(app, pushDeps, account);
      await listenWeb(app, address, node.logger, 'enrollment portal');
      apps.push(app);
    }
    pushes.start();
    return new EnrollmentServer(apps, deps.notifier, pushes);
  }

  ports(): number[] {
    return this.apps.map((a) => (a.server.address() as { port: number }).port);
  }

  async stop(): Promise<void> {
    this.pushes.stop();
    await Promise.all(this.apps.map((a) => a.close()));
    await this.notifier.close();
  }
}
