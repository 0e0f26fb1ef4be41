import type { BackendSettings, Settings } from '@otpgate/shared';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import type { ConfiguredBackend, PasswordBackend } from './backend.js';
import { PasswordChain } from './chain.js';
import { LocalPasswordBackend } from './local.js';
import { LdapPasswordBackend } from './ldap/ldap-backend.js';
import { EntraPasswordBackend } from './entra/entra-backend.js';

/** Weight of the newest check in the running average a decoy waits for. */
const DECOY_AVERAGE_WEIGHT = 0.1;

/**
 * Count and time every password check by backend and outcome. The running average of the time a check takes is the
 * decoy of a backend that has none of its own (a directory, Entra ID): waiting costs nothing and asks no one.
 */
export function instrumentBackend(backend: PasswordBackend, metrics: Metrics): PasswordBackend {
  let averageMs: number | undefined;
  return {
    name: backend.name,
    async verify(subject, password) {
      const started = performance.now();
      const end = metrics.backendLatency.startTimer({ backend: backend.name });
      const result = await backend.verify(subject, password);
      end();
      const ms = performance.now() - started;
      averageMs = averageMs === undefined ? ms : averageMs + DECOY_AVERAGE_WEIGHT * (ms - averageMs);
      metrics.backendRequests.inc({ backend: result.backend, outcome: result.outcome });
      return result;
    },
    async decoy(password) {
      if (backend.decoy) await backend.decoy(password);
      else if (averageMs !== undefined) await new Promise((resolve) => setTimeout(resolve, averageMs));
    },
  };
}

export function createBackend(settings: BackendSettings, logger: Logger): ConfiguredBackend {
  switch (settings.type) {
    case 'local':
      return new LocalPasswordBackend(settings.name);
    case 'ldap':
      return new LdapPasswordBackend(settings, logger);
    case 'entra':
      return new EntraPasswordBackend(settings, logger);
  }
}

/**
 * The configured backends, built once per settings version and closed when the settings change, and the chains
 * made of them.
 */
export class BackendRegistry {
  private backends = new Map<string, ConfiguredBackend>();
  private chains = new Map<string, PasswordChain>();
  private loadedJson = '';

  constructor(
    private readonly logger: Logger,
    private readonly metrics?: Metrics,
  ) {}

  /** Rebuild when the backend settings changed; the old instances are closed once the new ones are in place. */
  configure(settings: Settings): void {
    const json = JSON.stringify(settings.backends);
    if (json === this.loadedJson) return;
    const old = this.backends;
    this.backends = new Map(settings.backends.map((b) => [b.name, createBackend(b, this.logger)]));
    this.chains = new Map();
    this.loadedJson = json;
    for (const b of old.values()) void b.close?.().catch(() => undefined);
  }

  get(name: string): (ConfiguredBackend) | undefined {
    return this.backends.get(name);
  }

  chain(names: readonly string[]): PasswordBackend {
    const key = names.join('\n');
    let chain = this.chains.get(key);
    if (!chain) {
      const missing = names.filter((n) => !this.backends.has(n));
      if (missing.length > 0) this.logger.error({ backends: missing }, 'a backend chain names backends that are not configured; they are skipped');
      const members = names.flatMap((n) => {
        const b = this.backends.get(n);
        return b ? [this.metrics ? instrumentBackend(b, this.metrics) : b] : [];
      });
      chain = new PasswordChain(members);
      this.chains.set(key, chain);
    }
    return chain;
  }

  async close(): Promise<void> {
    await Promise.all([...this.backends.values()].map((b) => Promise.resolve(b.close?.()).catch(() => undefined)));
    this.backends = new Map();
    this.chains = new Map();
    this.loadedJson = '';
  }
}
