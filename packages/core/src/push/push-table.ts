/**
 * The master's pending pushes in its state database: made by RADIUS on the master or, through POST /v1/pushes, on a
 * replica; decided on the portal; timed out by the master's push service. Every write that a check guards does the
 * check in its own transaction: one push per request (by its key), the per-user rate, the lock, a decision only while
 * pending and unexpired.
 */
import { randomBytes } from 'node:crypto';
import { MAX_PUSH_DECISIONS, type PushCreate, type PushCreateAnswer, type PushDecision, type PushStatus } from '@otpgate/shared';
import type { Selectable } from 'kysely';
import type { PushesTable } from '../store/state-schema.js';
import type { StateDatabase } from '../store/store.js';

/** Decided pushes are kept this long for the record (the audit has the lines), then pruned. */
export const KEEP_PUSHES_MS = 7 * 86_400_000;
/** A "this wasn't me" locks the account until an admin unlocks it (a year stands for that). */
export const NOT_ME_LOCK_MS = 365 * 86_400_000;

/** A push as read back (COLUMNS): the table's row without its request key, its status typed. */
export type PushRow = Omit<Selectable<PushesTable>, 'request_key' | 'status'> & { status: PushStatus };

export interface PushLimits {
  timeoutMs: number;
  perMinute: number;
}

/** Why a decision was not recorded. */
export type DecideRefusal = 'unknown' | 'decided' | 'expired';

const COLUMNS = 'seq, id, user_id, username, client, client_address, number, created_at, expires_at, status, decided_at';

export class PushTable {
  private readonly byKeyStmt;
  private readonly byIdStmt;
  private readonly lockStmt;
  private readonly recentStmt;
  private readonly insertStmt;
  private readonly decideStmt;
  private readonly lockUserStmt;
  private readonly decisionsStmt;
  private readonly createdStmt;
  private readonly expireStmt;
  private readonly pendingStmt;

  constructor(private readonly state: StateDatabase) {
    this.byKeyStmt = state.prepare(`select ${COLUMNS} from pushes where request_key = ?`);
    this.byIdStmt = state.prepare(`select ${COLUMNS} from pushes where id = ?`);
    this.lockStmt = state.prepare('select locked_until from auth_state where user_id = ?').pluck();
    this.recentStmt = state.prepare('select count(*) from pushes where user_id = ? and created_at > ?').pluck();
    this.insertStmt = state.prepare(
      `insert into pushes (id, request_key, user_id, username, client, client_address, number, created_at, expires_at, status)
         values (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending')`,
    );
    this.decideStmt = state.prepare("update pushes set status = ?, decided_at = ? where id = ? and status = 'pending' and expires_at > ?");
    this.lockUserStmt = state.prepare(
      `insert into auth_state (user_id, failures, locked_until, updated_at, lock_published) values (?, 0, ?, ?, 0)
         on conflict (user_id) do update set locked_until = excluded.locked_until, updated_at = excluded.updated_at, lock_published = 0`,
    );
    this.decisionsStmt = state.prepare('select id, status, decided_at from pushes where decided_at >= ? order by decided_at limit ?');
    this.createdStmt = state.prepare(`select ${COLUMNS} from pushes where seq > ? order by seq limit ?`);
    this.expireStmt = state.prepare(
      `update pushes set status = 'timeout', decided_at = ? where seq in (select seq from pushes where status = 'pending' and expires_at <= ? limit ?)
         returning ${COLUMNS}`,
    );
    this.pendingStmt = state.prepare(`select ${COLUMNS} from pushes where user_id = ? and status = 'pending' and expires_at > ? order by created_at desc limit 20`);
  }

  /**
   * The push for this request: the one made for an earlier copy of it (on any node), or a new one if the user may
   * log in now and had fewer than `perMinute` this minute.
   */
  create(push: PushCreate & { username: string }, limits: PushLimits, now = Date.now()): PushCreateAnswer {
    return this.state.transaction((): PushCreateAnswer => {
      const existing = this.byKeyStmt.get(push.request_key) as PushRow | undefined;
      if (existing) return answer(existing);
      const lockedUntil = (this.lockStmt.get(push.user_id) as number | null | undefined) ?? null;
      if (lockedUntil !== null && lockedUntil > now) return { refused: 'locked' };
      if ((this.recentStmt.get(push.user_id, now - 60_000) as number) >= limits.perMinute) return { refused: 'rate-limited' };
      const id = randomBytes(16).toString('base64url');
      const expiresAt = now + limits.timeoutMs;
      this.insertStmt.run(id, push.request_key, push.user_id, push.username, push.client, push.client_address, push.number ?? null, now, expiresAt);
      return { id, created_at: now, expires_at: expiresAt, status: 'pending' };
    });
  }

  get(id: string): PushRow | undefined {
    return this.byIdStmt.get(id) as PushRow | undefined;
  }

  /** The user's pushes still waiting, newest first (a few at most: the rate limit sees to that). */
  pendingFor(userId: number, now = Date.now()): PushRow[] {
    return this.pendingStmt.all(userId, now) as PushRow[];
  }

  /**
   * Decide a pending, unexpired push of `userId`. "not-me" also locks the account (published to the replicas like
   * any lock), in the same transaction.
   */
  decide(id: string, userId: number, status: Exclude<PushStatus, 'pending' | 'timeout'>, now = Date.now()): PushRow | DecideRefusal {
    return this.state.transaction((): PushRow | DecideRefusal => {
      const row = this.byIdStmt.get(id) as PushRow | undefined;
      if (row?.user_id !== userId) return 'unknown';
      if (row.status !== 'pending') return 'decided';
      if (this.decideStmt.run(status, now, id, now).changes !== 1) return 'expired';
      if (status === 'not-me') this.lockUserStmt.run(userId, now + NOT_ME_LOCK_MS, now);
      return { ...row, status, decided_at: now };
    });
  }

  /** Pushes decided (or timed out) at or after `since`, oldest first. */
  decisionsSince(since: number, limit = MAX_PUSH_DECISIONS): PushDecision[] {
    return this.decisionsStmt.all(since, limit) as PushDecision[];
  }

  /** Pushes made after `seq`, in order: the notifier's work. */
  createdAfter(seq: number, limit: number): PushRow[] {
    return this.createdStmt.all(seq, limit) as PushRow[];
  }

  /** Mark pending pushes past their time as timed out; returns them. */
  expireDue(now: number, limit: number): PushRow[] {
    return this.expireStmt.all(now, now, limit) as PushRow[];
  }

  /** The last push made (0: none): where the notifier starts. */
  lastSeq(): number {
    return (this.state.prepare('select coalesce(max(seq), 0) from pushes').pluck().get() as number);
  }

  /** Pushes past the retention, up to `limit` at a time; returns how many went. */
  prune(now: number, limit: number): number {
    return this.state.prepare('delete from pushes where seq in (select seq from pushes where created_at <= ? limit ?)').run(now - KEEP_PUSHES_MS, limit).changes;
  }
}

function answer(row: PushRow): PushCreateAnswer {
  return { id: row.id, created_at: row.created_at, expires_at: row.expires_at, status: row.status };
}
