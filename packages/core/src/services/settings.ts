import { ValidationError, parseWith, settingsSchema, type Settings } from '@otpgate/shared';
import { SETTINGS_KEY } from '../store/entity-handlers.js';
import { recordAdminAction, type Actor, type ServiceContext } from './context.js';

/** A value typed on a command line: JSON when it parses (numbers, true/false), else the text itself. */
function parseValue(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** Cluster-wide settings, validated with the one schema the UI and config import also use. */
export class SettingsService {
  constructor(private readonly ctx: ServiceContext) {}

  get(): Settings {
    return this.ctx.store.settings();
  }

  /** Replace the whole document (validated first; nothing is stored if any part is wrong). */
  replace(document: unknown, actor: Actor, action = 'settings.update'): Settings {
    this.ctx.store.assertWritable();
    const valid = parseWith(settingsSchema, document, 'settings');
    const before = this.get();
    this.ctx.store.commit([{ entity: 'settings', op: 'upsert', data: valid }]);
    recordAdminAction(this.ctx, actor, action, SETTINGS_KEY, { before, after: valid });
    return valid;
  }

  /** Set one setting by its dotted path, e.g. "lockout.max_failures" = "3". */
  set(path: string, valueText: string, actor: Actor): Settings {
    const parts = path.split('.');
    const document = structuredClone(this.get()) as Record<string, unknown>;
    let node: Record<string, unknown> = document;
    for (const part of parts.slice(0, -1)) {
      // own properties only: "__proto__.x" must not walk into (and write to) Object.prototype
      const next = Object.hasOwn(node, part) ? node[part] : undefined;
      if (next === null || typeof next !== 'object') {
        throw new ValidationError('settings', [{ path, message: `unknown setting (no section "${part}")` }]);
      }
      node = next as Record<string, unknown>;
    }
    // defined, not assigned: a last part of "__proto__" becomes an unknown setting instead of replacing a prototype
    Object.defineProperty(node, parts[parts.length - 1]!, { value: parseValue(valueText), enumerable: true, writable: true, configurable: true });
    return this.replace(document, actor);
  }
}
