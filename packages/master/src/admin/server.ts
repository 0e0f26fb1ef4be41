import type { FastifyInstance } from 'fastify';
import type { NodeConfig, ReplicaSelfStatus } from '@otpgate/shared';
import { AdminAuditService, createServices, loadDictionary, type OtpgateNode } from '@otpgate/core';
import { ensureAdminCertificate } from './certificate.js';
import { createWebApp, listenWeb, webTls } from '../web/app.js';
import { SessionStore } from '../web/sessions.js';
import { SignInGuard } from '../web/signin-guard.js';
import { AdminSignIn } from './sign-in.js';
import { Ui } from './ui.js';
import { registerSignInPages } from './pages/sign-in.js';
import { registerPages } from './pages/index.js';

/**
 * The admin web UI: HTTPS on its own port (admin.listen), server-rendered pages that work without JavaScript. On the
 * master every page; on a replica only a read-only status page, every other page refused with a message naming the
 * master (pages/index.ts).
 */
export class AdminServer {
  private readonly apps: FastifyInstance[] = [];

  private constructor(
    private readonly node: OtpgateNode,
    private readonly config: NodeConfig,
  ) {}

  static async start(node: OtpgateNode, config: NodeConfig, options: { replicaView?: () => ReplicaSelfStatus } = {}): Promise<AdminServer> {
    const server = new AdminServer(node, config);
    await ensureAdminCertificate(node.store.dataDir);
    const tls = webTls(node.store.dataDir);
    const logger = node.logger;
    const dictionary = loadDictionary(config.radius.dictionaries);
    const services = createServices({ store: node.store, dictionary, logger });
    const guard = new SignInGuard({ name: 'admin', meter: node.metrics });
    const signIn = new AdminSignIn({
      services,
      backends: node.backends,
      repository: node.repository,
      settings: () => node.settings,
      guard,
      directoryRecheckMs: config.admin.directory_recheck_minutes * 60_000,
    });
    const ui = new Ui({
      node,
      services,
      dictionary,
      config,
      logger,
      sessions: new SessionStore({
        name: 'admin_sessions',
        idleMs: config.admin.idle_minutes * 60_000,
        absoluteMs: config.admin.session_hours * 3_600_000,
        meter: node.metrics,
      }),
      sessionEnded: (session) => signIn.ended(session),
      guard,
      audit: new AdminAuditService(node.store, logger),
      replicaView: options.replicaView,
    });
    for (const address of config.admin.listen) {
      const app = await createWebApp(tls, {
        what: 'admin UI',
        allow: config.admin.allow,
        allowSetting: 'admin.allow',
        logger,
        errorPage: (refusal) => ui.errorPage(refusal.title, refusal.message, refusal.masterUrl).value,
        actionError: ui.actionError,
        writeLock: node.store.db,
      });
      registerSignInPages(app, ui, signIn);
      registerPages(app, ui);
      app.setNotFoundHandler((req, reply) => ui.deny(reply, 404, 'Not found', `There is no page at ${req.url}.`));
      await listenWeb(app, address, logger, 'admin UI');
      server.apps.push(app);
    }
    return server;
  }

  ports(): number[] {
    return this.apps.map((a) => (a.server.address() as { port: number }).port);
  }

  async stop(): Promise<void> {
    await Promise.all(this.apps.map((a) => a.close()));
  }
}
