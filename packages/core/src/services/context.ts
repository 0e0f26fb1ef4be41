import { ConflictError, InvalidInputError, NotFoundError, type ReplyAttribute, errorMessage } from '@otpgate/shared';
import { sql, type RawBuilder } from 'kysely';
import type { Logger } from '../logger.js';
import type { Dictionary } from '../radius/dictionary.js';
import type { Store } from '../store/store.js';
import { AdminAuditService, type AuditChange } from './admin-audit.js';

/** Who is making a change, for the admin log line (and the audit log). */
export interface Actor {
  name: string;
  /** Where from: "cli", or the admin's address. */
  source: string;
}

export const CLI_ACTOR: Actor = { name: 'root', source: 'cli' };

/** What every admin service needs: the store, the dictionary (to validate reply attributes) and a logger. */
export interface ServiceContext {
  store: Store;
  dictionary: Dictionary;
  logger: Logger;
}

/**
 * One admin action, from the CLI or the web UI: a JSON log line and a row in the audit log (who, from where, what,
 * the record before and after; never a secret). Without a store (a restore onto an empty node) only the log line.
 */
export function recordAdminAction(
  ctx: { logger: Logger; store?: Store },
  actor: Actor,
  action: string,
  target: string,
  change: AuditChange = {},
): void {
  if (ctx.store) new AdminAuditService(ctx.store, ctx.logger).record(actor, action, target, change);
  else ctx.logger.info({ event: 'admin', actor: actor.name, from: actor.source, action, target, ...(change.details ?? {}) }, `${actor.name}: ${action} ${target}`);
}

type IdTable = 'users' | 'tokens' | 'groups' | 'clients' | 'hardware_tokens';

/**
 * Ids that are never reused, even after deletes (a late step report for a deleted token must not land on a new one):
 * the next id is the larger of the stored counter (`next_id:<table>`) and the highest id + 1. The counter is read once
 * per table and written back by `finish()`, so an import of many records costs no queries per record. Use inside
 * one write transaction.
 */
export class IdSequence {
  private readonly next = new Map<IdTable, number>();

  constructor(private readonly store: Store) {}

  take(table: IdTable): number {
    let id = this.next.get(table);
    if (id === undefined) {
      const stored = Number(this.store.getMeta(`next_id:${table}`) ?? 1);
      const row = this.store.db.first(this.store.db.q.selectFrom(table).select((eb) => eb.fn.max('id').as('max')));
      id = Math.max(stored, Number(row?.max ?? 0) + 1);
    }
    this.next.set(table, id + 1);
    return id;
  }

  /** Store the counters, so ids handed out here are never handed out again. */
  finish(): void {
    for (const [table, id] of this.next) this.store.setMeta(`next_id:${table}`, String(id));
  }
}

/** One new id, for a single record: an `IdSequence` of one. Call inside the write transaction. */
export function allocateId(store: Store, table: IdTable): number {
  const ids = new IdSequence(store);
  const id = ids.take(table);
  ids.finish();
  return id;
}

/** Validate reply attributes against the dictionary; the first bad one is reported with its position. */
export function validateAttributes(dictionary: Dictionary, attributes: readonly ReplyAttribute[]): ReplyAttribute[] {
  attributes.forEach((a, i) => {
    try {
      dictionary.encode(a);
    } catch (err) {
      throw new InvalidInputError(errorMessage(err).replace(/^attributes: /, ''), `attributes[${i}]`);
    }
  });
  return attributes.map((a) => ({ name: a.name.trim(), value: a.value.trim() }));
}

/** "Name=value" as admins write attributes on the command line (and in FreeRADIUS users files). */
export function parseAttributeAssignment(text: string): ReplyAttribute {
  const eq = text.indexOf('=');
  if (eq <= 0) throw new InvalidInputError(`"${text}" is not Name=value`, 'attribute');
  return { name: text.slice(0, eq).trim(), value: text.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1') };
}

/** One Name=value per line (the admin UI's attribute editor), read exactly as the command line reads each one. */
export function parseAttributeLines(text: string): ReplyAttribute[] {
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter(Boolean)
    .map(parseAttributeAssignment);
}

/** `column LIKE '%text%'`, with the %, _ and \ a person typed taken literally (a search box is not a pattern). */
export function containsText(column: string, text: string): RawBuilder<boolean> {
  const like = `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
  return sql<boolean>`${sql.ref(column)} like ${like} escape '\\'`;
}

export function required<T>(value: T | undefined, what: string, name: string): T {
  if (value === undefined) throw new NotFoundError(what, name);
  return value;
}

export function conflict(message: string): never {
  throw new ConflictError(message);
}
