import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { loadNodeConfig, type NodeConfig } from '@otpgate/shared';
import { Store, createLogger, createServices, loadDictionary, nodeName, openNodeLogging, type Logger, type Services } from '@otpgate/core';

export const DEFAULT_CONFIG_PATH = '/etc/otpgate/otpgate.yaml';

export interface GlobalOptions {
  config?: string;
}

/** --config, then $OTPGATE_CONFIG, then ./otpgate.yaml if present, then /etc/otpgate/otpgate.yaml. */
export function configPath(options: GlobalOptions): { path: string; explicit: boolean } {
  if (options.config) return { path: resolve(options.config), explicit: true };
  if (process.env.OTPGATE_CONFIG) return { path: resolve(process.env.OTPGATE_CONFIG), explicit: true };
  if (existsSync('otpgate.yaml')) return { path: resolve('otpgate.yaml'), explicit: true };
  return { path: DEFAULT_CONFIG_PATH, explicit: false };
}

export function loadConfig(options: GlobalOptions): NodeConfig {
  const { path, explicit } = configPath(options);
  return loadNodeConfig(path, explicit);
}

/**
 * Admin commands log their actions as JSON lines to stderr, so stdout stays the command's own output. With log.syslog
 * the actions also go to the collector at the configured level, whatever stderr shows (an audit trail for the SIEM);
 * its socket holds the command open only until its lines are sent.
 */
export function cliLogger(config: NodeConfig): Logger {
  const consoleLevel = process.env.OTPGATE_CLI_LOG === '1' ? 'info' : 'warn';
  if (config.log.syslog) return openNodeLogging(config, { console: process.stderr, consoleLevel }).logger;
  return createLogger(consoleLevel, nodeName(config), process.stderr);
}

export interface AdminContext {
  config: NodeConfig;
  store: Store;
  services: Services;
  logger: Logger;
}

/** Open the local store for an admin command; the caller closes it. */
export async function openAdmin(options: GlobalOptions): Promise<AdminContext> {
  const config = loadConfig(options);
  const store = await Store.open(config.node.data_dir);
  const logger = cliLogger(config);
  const services = createServices({ store, dictionary: loadDictionary(config.radius.dictionaries), logger });
  return { config, store, services, logger };
}

export async function withAdmin<T>(options: GlobalOptions, fn: (ctx: AdminContext) => Promise<T> | T): Promise<T> {
  const ctx = await openAdmin(options);
  try {
    return await fn(ctx);
  } finally {
    ctx.store.close();
  }
}
