import type { Selectable } from 'kysely';
import type { Logger } from '../logger.js';
import type { Store } from '../store/store.js';
import type { AdminAuditTable } from '../store/schema.js';
import type { Actor } from './context.js';
import { truncateUtf8 } from '../log/syslog-format.js';
import { errorMessage } from '@otpgate/shared';
import { scheduleRetention, type RetentionJob } from '../store/retention.js';

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

/** Longest actor, source, action or target kept, in UTF-8 bytes; a longer one is cut and ends in "…". */
export const AUDIT_TEXT_MAX_BYTES = 256;
/** Longest record before or after, or details, kept (JSON, UTF-8 bytes); a longer one is replaced by a summary. */
export const AUDIT_JSON_MAX_BYTES = 64 * 1024;
/** How much of an over-long JSON value its summary keeps. */
const JSON_HEAD_BYTES = 1024;

/** At most `max` UTF-8 bytes of `text`, marked with "…" when cut. */
export function clipText(text: string, max: number): string {
  // no character takes more than 3 UTF-8 bytes per UTF-16 unit: encode only what can stay, not a 2 MB input
  if (text.length <= max / 3 || Buffer.byteLength(text) <= max) return text;
  return `${truncateUtf8(Buffer.from(text.slice(0, max)), max - 3).toString()}…`;
}

/** JSON of `value` without secrets, or when longer than AUDIT_JSON_MAX_BYTES a summary saying so (still JSON). */
function auditJson(value: unknown): string | null {
  if (value === undefined) return null;
  const text = JSON.stringify(withoutSecrets(value));
  const bytes = Buffer.byteLength(text);
  if (bytes <= AUDIT_JSON_MAX_BYTES) return text;
  return JSON.stringify({ truncated: true, bytes, start: clipText(text, JSON_HEAD_BYTES) });
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

  /**
   * Record one action. Every column is bounded (a name someone typed at the sign-in page is input like any other):
   * texts are cut at AUDIT_TEXT_MAX_BYTES, records at AUDIT_JSON_MAX_BYTES.
   */
  record(actor: Actor, action: string, target: string, change: AuditChange = {}): void {
    const row = {
      at: Date.now(),
      actor: clipText(actor.name, AUDIT_TEXT_MAX_BYTES),
      source: clipText(actor.source, AUDIT_TEXT_MAX_BYTES),
      action: clipText(action, AUDIT_TEXT_MAX_BYTES),
      target: clipText(target, AUDIT_TEXT_MAX_BYTES),
      before: auditJson(change.before),
      after: auditJson(change.after),
      details: change.details ? auditJson(change.details) : null,
    };
    // the details as fields of the log line, unless they were too long to keep whole
    const details = row.details === null ? {} : (JSON.parse(row.details) as Record<string, unknown>);
    this.logger.info(
      { event: 'admin', actor: row.actor, from: row.source, action: row.action, target: row.target, ...details },
      `${row.actor}: ${row.action} ${row.target}`,
    );
    try {
      const db = this.store.db;
      db.run(db.q.insertInto('admin_audit').values(row));
    } catch (err) {
      // a read-only copy (a backup being inspected) or a full disk must not undo the action that was just done
      this.logger.error({ err: errorMessage(err), action }, 'could not write the admin audit record');
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

/** Prune the audit log in the background, in small chunks (every node keeps its own): older than `maxAgeMs`, beyond `maxRows`. */
export function scheduleAdminAuditRetention(store: Store, logger: Logger, limits: { maxAgeMs: number; maxRows: number }): RetentionJob {
  return scheduleRetention(store.db, logger, { table: 'admin_audit', timeColumn: 'at', ...limits });
}
