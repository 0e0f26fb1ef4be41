import type { Selectable } from 'kysely';
import type { AuthLogTable } from '../store/schema.js';
import type { ServiceContext } from './context.js';

export type AuthLogEntry = Selectable<AuthLogTable>;

export interface AuthLogQuery {
  user?: string;
  client?: string;
  result?: AuthLogEntry['result'];
  reason?: string;
  since?: number;
  limit?: number;
}

/** The per-request authentication records (who, from which NAS, which backend, outcome and reason), newest first. */
export class AuthLogService {
  constructor(private readonly ctx: ServiceContext) {}

  list(query: AuthLogQuery = {}): AuthLogEntry[] {
    const db = this.ctx.store.db;
    let q = db.q.selectFrom('auth_log').selectAll().orderBy('at', 'desc').orderBy('id', 'desc').limit(Math.min(query.limit ?? 100, 10_000));
    if (query.user) q = q.where('username', '=', query.user);
    if (query.client) q = q.where('client', '=', query.client);
    if (query.result) q = q.where('result', '=', query.result);
    if (query.reason) q = q.where('reason', '=', query.reason);
    if (query.since !== undefined) q = q.where('at', '>=', query.since);
    return db.all(q);
  }
}
