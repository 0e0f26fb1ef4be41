import type { FastifyInstance } from 'fastify';
import type { Ui } from '../ui.js';
import { masterOnlyPages } from '../../web/app.js';
import { registerDashboard } from './dashboard.js';
import { registerUserPages } from './users.js';
import { registerHardwarePages } from './hardware.js';
import { registerGroupPages } from './groups.js';
import { registerClientPages } from './clients.js';
import { registerVpnProfilePages } from './vpn-profile.js';
import { registerBackendPages } from './backends.js';
import { registerSettingsPages } from './settings.js';
import { registerReplicaPages } from './replicas.js';
import { registerLogPages } from './logs.js';
import { registerCertificatePages } from './certificate.js';
import { registerImportPages } from './imports.js';
import { registerConfigPages } from './config.js';
import { registerAccountPages } from './account.js';

/**
 * Every page after sign-in. The start page is every node's (a replica shows its status there); the others are the
 * master's, in one encapsulated plugin that a replica refuses whole, so a page added to it is never served by a
 * replica by mistake. Forms there are only read from signed-in admins (ui.sessionGate).
 */
export function registerPages(app: FastifyInstance, ui: Ui): void {
  registerDashboard(app, ui);
  masterOnlyPages(app, { isMaster: () => ui.role === 'master', refuse: ui.refuseOnReplica }, (pages) => {
    pages.addHook('onRequest', ui.sessionGate);
    registerUserPages(pages, ui);
    registerHardwarePages(pages, ui);
    registerGroupPages(pages, ui);
    registerClientPages(pages, ui);
    registerVpnProfilePages(pages, ui);
    registerBackendPages(pages, ui);
    registerSettingsPages(pages, ui);
    registerReplicaPages(pages, ui);
    registerLogPages(pages, ui);
    registerCertificatePages(pages, ui);
    registerImportPages(pages, ui);
    registerConfigPages(pages, ui);
    registerAccountPages(pages, ui);
  });
}
