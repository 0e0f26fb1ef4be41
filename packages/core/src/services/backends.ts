import {
  ConflictError,
  InvalidInputError,
  NotFoundError,
  SECRET_MASK,
  SETTINGS_SECRET_FIELDS,
  backendSchema,
  maskSettingsSecrets,
  parseWith,
  type BackendSettings,
} from '@otpgate/shared';
import { createBackend } from '../backends/registry.js';
import type { ConnectionReport } from '../backends/backend.js';
import { SettingsService } from './settings.js';
import type { Actor, ServiceContext } from './context.js';

/** Password backends (part of the settings): add, replace, remove, and "test connection". */
export class BackendService {
  private readonly settings: SettingsService;

  constructor(private readonly ctx: ServiceContext) {
    this.settings = new SettingsService(ctx);
  }

  /** Backends with their secrets masked, for display. */
  list(): BackendSettings[] {
    return maskSettingsSecrets(this.settings.get()).backends;
  }

  get(name: string): BackendSettings {
    const found = this.settings.get().backends.find((b) => b.name === name);
    if (!found) throw new NotFoundError('backend', name);
    return found;
  }

  /** Add a backend, or with `replace` change an existing one (secrets left empty keep their stored value). */
  save(input: unknown, actor: Actor, options: { replace?: boolean } = {}): BackendSettings {
    const current = this.settings.get();
    const candidate = parseWith(backendSchema, input, 'backend');
    const index = current.backends.findIndex((b) => b.name === candidate.name);
    if (index >= 0 && !options.replace) throw new ConflictError(`backend "${candidate.name}" already exists`);
    if (index < 0 && options.replace) throw new NotFoundError('backend', candidate.name);
    const kept = index >= 0 ? keepSecrets(candidate, current.backends[index]!) : candidate;
    const backends = index >= 0 ? current.backends.map((b, i) => (i === index ? kept : b)) : [...current.backends, kept];
    this.settings.replace({ ...current, backends }, actor, `backend.${options.replace ? 'update' : 'add'}`);
    return kept;
  }

  remove(name: string, actor: Actor): void {
    const current = this.settings.get();
    this.get(name);
    const users = [
      ...(current.auth.backends.includes(name) ? ['auth.backends'] : []),
      ...current.auth.realms.filter((r) => r.backends.includes(name)).map((r) => `realm ${r.name}`),
      ...this.ctx.store.readAll('client').filter((c) => c.backends?.includes(name)).map((c) => `client ${c.name}`),
    ];
    if (users.length > 0) throw new InvalidInputError(`backend "${name}" is still used by ${users.join(', ')}`);
    this.settings.replace({ ...current, backends: current.backends.filter((b) => b.name !== name) }, actor, 'backend.remove');
  }

  /** Connect with the stored settings and report what the server answered; `username` is looked up if given. */
  async test(name: string, username?: string): Promise<ConnectionReport> {
    const backend = createBackend(this.get(name), this.ctx.logger);
    try {
      if (!backend.testConnection) return { ok: true, steps: [{ step: 'local', ok: true, detail: 'local passwords need no connection' }] };
      return await backend.testConnection(username);
    } finally {
      await backend.close?.();
    }
  }
}

/** A secret left empty (or masked) in an edit keeps the stored one: admins do not retype it to change a timeout. */
function keepSecrets(next: BackendSettings, previous: BackendSettings): BackendSettings {
  const out: Record<string, unknown> = { ...next };
  const old = previous as Record<string, unknown>;
  for (const field of SETTINGS_SECRET_FIELDS) {
    if (field in out && (out[field] === '' || out[field] === SECRET_MASK) && typeof old[field] === 'string') out[field] = old[field];
  }
  return out as BackendSettings;
}
