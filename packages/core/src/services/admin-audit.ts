import type { Selectable } from 'kysely';
import type { Logger } from '../logger.js';
import type { Store } from '../store/store.js';
import type { AdminAuditTable } from '../store/schema.js';
import type { Actor } from './context.js';

export type AdminAuditEntry = Selectable<AdminAuditTable>;

/** Field names whose values never enter the audit log (or the admin log line). */
const SECRET_KEYS = new Set(['secret', 'password', 'password_hash', 'bind_password', 'client_secret', 'client_key', 'key']);

/** A copy of a record with every secret replaced by a marker saying only whether it was set. */
export function withoutSecrets(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutSecrets);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, SECRET_KEYS.has(k) ? (v ? '(set)' : '(none)') : withoutSecrets(v)]),
  );
}

export interface AuditChange {
  before?: unknown;
  after?: unknown;
  details?: Record<string, unknown>;
}

export interface AdminAuditQuery {
  actor?: string;
  action?: string;
  target?: string;
  since?: number;
  limit?: number;
}

/**
 * The admin audit log: who did what, from where and when, with the record before and after (secrets removed).
 * Every admin action from the CLI and the web UI goes here and to the log as one JSON line.
 */
export class AdminAuditService {
  constructor(
    private readonly store: Store,
    private readonly logger: Logger,
  ) {}

  record(actor: Actor, action: string, target: string, change: AuditChange = {}): void {
    const before = change.before === undefined ? null : JSON.stringify(withoutSecrets(change.before));
    const after = change.after === undefined ? null : JSON.stringify(withoutSecrets(change.after));
    const details = change.details ? JSON.stringify(withoutSecrets(change.details)) : null;
    this.logger.info(
      { event: 'admin', actor: actor.name, from: actor.source, action, target, ...(withoutSecrets(change.details ?? {}) as object) },
      `${actor.name}: ${action} ${target}`,
    );
    try {
      const db = this.store.db;
      db.run(db.q.insertInto('admin_audit').values({ at: Date.now(), actor: actor.name, source: actor.source, action, target, before, after, details }));
    } catch (err) {
      // a read-only copy (a backup being inspected) or a full disk must not undo the action that was just done
      this.logger.error({ err: (err as Error).message, action }, 'could not write the admin audit record');
    }
  }

  list(query: AdminAuditQuery = {}): AdminAuditEntry[] {
    const db = this.store.db;
    let q = db.q.selectFrom('admin_audit').selectAll().orderBy('at', 'desc').orderBy('id', 'desc').limit(Math.min(query.limit ?? 200, 100_000));
    if (query.actor) q = q.where('actor', '=', query.actor);
    if (query.action) q = q.where('action', 'like', `${query.action.replace(/[%_]/g, '')}%`);
    if (query.target) q = q.where('target', '=', query.target);
    if (query.since !== undefined) q = q.where('at', '>=', query.since);
    return db.all(q);
  }

  /** RFC 4180 CSV of the entries, for export. */
  static csv(entries: readonly AdminAuditEntry[]): string {
    const cell = (v: string | number | null) => {
      // a leading = + - @ would make a spreadsheet run the cell as a formula
      const text = v === null ? '' : /^[=+\-@\t\r]/.test(String(v)) ? `'${String(v)}` : String(v);
      return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
    };
    const header = 'time,actor,source,action,target,before,after,details';
    const rows = entries.map((e) => [new Date(e.at).toISOString(), e.actor, e.source, e.action, e.target, e.before, e.after, e.details].map(cell).join(','));
    return [header, ...rows].join('\r\n') + '\r\n';
  }
}
