import type { FastifyInstance } from 'fastify';
import type { Ui } from '../ui.js';
import { registerDashboard } from './dashboard.js';
import { registerUserPages } from './users.js';
import { registerHardwarePages } from './hardware.js';
import { registerGroupPages } from './groups.js';
import { registerClientPages } from './clients.js';
import { registerBackendPages } from './backends.js';
import { registerSettingsPages } from './settings.js';
import { registerReplicaPages } from './replicas.js';
import { registerLogPages } from './logs.js';
import { registerCertificatePages } from './certificate.js';
import { registerImportPages } from './imports.js';
import { registerConfigPages } from './config.js';
import { registerAccountPages } from './account.js';

/** Every page after sign-in. */
export function registerPages(app: FastifyInstance, ui: Ui): void {
  registerDashboard(app, ui);
  registerUserPages(app, ui);
  registerHardwarePages(app, ui);
  registerGroupPages(app, ui);
  registerClientPages(app, ui);
  registerBackendPages(app, ui);
  registerSettingsPages(app, ui);
  registerReplicaPages(app, ui);
  registerLogPages(app, ui);
  registerCertificatePages(app, ui);
  registerImportPages(app, ui);
  registerConfigPages(app, ui);
  registerAccountPages(app, ui);
}
