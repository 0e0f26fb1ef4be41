import type { Selectable } from 'kysely';
import { AUTH_BUCKET_MS, type AuthBucketCount } from '@otpgate/shared';
import type { AuthLogTable } from '../store/state-schema.js';
import { TIMELINE_MS, localAuthBuckets, replicaAuthBuckets } from '../store/auth-buckets.js';
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

export interface AuthLogSummary {
  since: number;
  results: Record<string, number>;
  reasons: Array<{ reason: string; count: number }>;
  topRejectedUsers: Array<{ username: string; count: number }>;
  topRejectedClients: Array<{ client: string; count: number }>;
  backends: Array<{ backend: string; accepts: number; rejects: number; errors: number }>;
}

/** Requests per 5 minutes over the last day, for the dashboard's charts. */
export interface AuthTimeline {
  /** The first bucket's start (ms since the epoch); `buckets` buckets of AUTH_BUCKET_MS follow, the last one now's. */
  from: number;
  buckets: number;
  /** This node's counts (sparse: buckets without requests are missing). */
  local: AuthBucketCount[];
  /** Master: each replica's counts as it last reported them, by name; replicas silent all day are missing. */
  replicas: Array<{ replica: string; counts: AuthBucketCount[] }>;
}

/** The per-request authentication records (who, from which NAS, which backend, outcome and reason), newest first. */
export class AuthLogService {
  constructor(private readonly ctx: ServiceContext) {}

  list(query: AuthLogQuery = {}): AuthLogEntry[] {
    const db = this.ctx.store.state;
    let q = db.q.selectFrom('auth_log').selectAll().orderBy('at', 'desc').orderBy('id', 'desc').limit(Math.min(query.limit ?? 100, 10_000));
    if (query.user) q = q.where('username', '=', query.user);
    if (query.client) q = q.where('client', '=', query.client);
    if (query.result) q = q.where('result', '=', query.result);
    if (query.reason) q = q.where('reason', '=', query.reason);
    if (query.since !== undefined) q = q.where('at', '>=', query.since);
    return db.all(q);
  }

  /** Requests per 5 minutes by result and reject reason, this node's and (on a master) each replica's. */
  timeline(now = Date.now()): AuthTimeline {
    const buckets = TIMELINE_MS / AUTH_BUCKET_MS;
    const from = now - (now % AUTH_BUCKET_MS) - (buckets - 1) * AUTH_BUCKET_MS;
    const store = this.ctx.store;
    const replicas = [...replicaAuthBuckets(store, from)].map(([replica, counts]) => ({ replica, counts }));
    return { from, buckets, local: localAuthBuckets(store, from), replicas };
  }

  /** What the dashboard shows: results, reject reasons, who and which NAS get rejected most, backend health. */
  summary(since: number): AuthLogSummary {
    const db = this.ctx.store.state;
    const base = db.q.selectFrom('auth_log').where('at', '>=', since);
    const results = Object.fromEntries(
      db.all(base.select((eb) => ['result', eb.fn.countAll<number>().as('n')]).groupBy('result')).map((r) => [r.result, Number(r.n)]),
    );
    const rejects = base.where('result', '=', 'reject');
    const top = (column: 'username' | 'client' | 'reason', limit: number) =>
      db
        .all(rejects.select((eb) => [eb.ref(column).as('key'), eb.fn.countAll<number>().as('n')]).groupBy(column).orderBy('n', 'desc').limit(limit))
        .map((r) => ({ key: String(r.key ?? ''), count: Number(r.n) }));
    const backends = db
      .all(
        base
          .select((eb) => [
            'backend',
            eb.fn.sum<number>(eb.case().when('result', '=', 'accept').then(1).else(0).end()).as('accepts'),
            eb.fn.sum<number>(eb.case().when('reason', '=', 'backend-error').then(1).else(0).end()).as('errors'),
            eb.fn.sum<number>(eb.case().when('result', '=', 'reject').then(1).else(0).end()).as('rejects'),
          ])
          .where('backend', 'is not', null)
          .groupBy('backend')
          .orderBy('backend'),
      )
      .map((b) => ({ backend: b.backend ?? '', accepts: Number(b.accepts), rejects: Number(b.rejects), errors: Number(b.errors) }));
    return {
      since,
      results,
      reasons: top('reason', 20).map((r) => ({ reason: r.key, count: r.count })),
      topRejectedUsers: top('username', 10).map((r) => ({ username: r.key, count: r.count })),
      topRejectedClients: top('client', 10).map((r) => ({ client: r.key, count: r.count })),
      backends,
    };
  }
}
