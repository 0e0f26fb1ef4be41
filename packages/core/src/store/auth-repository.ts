import { unseal, type AuthMode, type OtpAlgorithm, type OtpKind, type Settings } from '@otpgate/shared';
import type { AuthUser } from '../auth/types.js';
import type { OtpToken } from '../otp/verify.js';
import { fromBase32 } from '../otp/secret.js';
import type { Store } from './store.js';
import { WriteBatcher } from './write-batcher.js';

interface UserRow {
  id: number;
  username: string;
  status: 'active' | 'disabled';
  password_hash: string | null;
  auth_mode: AuthMode | null;
  attributes: string;
  failures: number | null;
  locked_until: number | null;
}

interface TokenRow {
  id: number;
  kind: OtpKind;
  algorithm: OtpAlgorithm;
  digits: 6 | 8;
  period: 30 | 60;
  t0: number;
  secret_sealed: string;
  counter: number;
  window_past: number | null;
  window_future: number | null;
  last_step: number;
  drift: number;
}

export interface AuthLogRecord {
  at: number;
  node: string;
  username: string;
  client: string;
  source: string;
  nas_ip: string;
  calling_station: string;
  result: 'accept' | 'reject' | 'challenge' | 'drop';
  reason: string | null;
  backend: string | null;
  latency_us: number;
}

const SECRET_CACHE_LIMIT = 200_000;

/**
 * The store as the RADIUS hot path uses it: a user with tokens, groups and lockout state in a few prepared
 * statements, and writes (steps, failures, audit rows) through one group-committed transaction per event-loop turn.
 */
export class AuthRepository {
  private readonly batcher: WriteBatcher;
  /** Sealed secret -> clear key: unsealing (AES-GCM) on every request costs more than the lookup itself. */
  private readonly secrets = new Map<string, Buffer>();
  private readonly userStmt;
  private readonly tokensStmt;
  private readonly groupsStmt;
  private readonly consumeStmt;
  private readonly failureStmt;
  private readonly lockStmt;
  private readonly clearStmt;
  private readonly logStmt;

  constructor(
    private readonly store: Store,
    private readonly settings: () => Settings,
  ) {
    const db = store.db;
    this.batcher = new WriteBatcher(db);
    this.userStmt = db.prepare(
      `select u.id, u.username, u.status, u.password_hash, u.auth_mode, u.attributes, s.failures, s.locked_until
         from users u left join auth_state s on s.user_id = u.id where u.username = ?`,
    );
    this.tokensStmt = db.prepare(
      `select t.id, t.kind, t.algorithm, t.digits, t.period, t.t0, t.secret_sealed, t.counter, t.window_past,
              t.window_future, coalesce(s.last_step, -1) as last_step, coalesce(s.drift, 0) as drift
         from tokens t left join token_state s on s.token_id = t.id where t.user_id = ? and t.active = 1 order by t.id`,
    );
    this.groupsStmt = db.prepare(
      'select g.name from user_groups ug join groups g on g.id = ug.group_id where ug.user_id = ? order by g.name',
    );
    this.consumeStmt = db.prepare(
      `insert into token_state (token_id, last_step, drift, updated_at, reported) values (?, ?, ?, ?, 0)
         on conflict (token_id) do update set last_step = excluded.last_step, drift = excluded.drift,
           updated_at = excluded.updated_at, reported = 0
         where token_state.last_step < excluded.last_step`,
    );
    this.failureStmt = db.prepare(
      `insert into auth_state (user_id, failures, locked_until, updated_at) values (?, 1, null, ?)
         on conflict (user_id) do update set
           failures = case when locked_until is not null and locked_until <= excluded.updated_at then 1 else failures + 1 end,
           locked_until = case when locked_until is not null and locked_until <= excluded.updated_at then null else locked_until end,
           updated_at = excluded.updated_at
         returning failures, locked_until`,
    );
    this.lockStmt = db.prepare('update auth_state set locked_until = ? where user_id = ?');
    this.clearStmt = db.prepare('delete from auth_state where user_id = ?');
    this.logStmt = db.prepare(
      `insert into auth_log (at, node, username, client, source, nas_ip, calling_station, result, reason, backend, latency_us)
         values (@at, @node, @username, @client, @source, @nas_ip, @calling_station, @result, @reason, @backend, @latency_us)`,
    );
  }

  findUser(username: string): AuthUser | undefined {
    const row = this.userStmt.get(username) as UserRow | undefined;
    if (!row) return undefined;
    const otp = this.settings().otp;
    const tokens = (this.tokensStmt.all(row.id) as TokenRow[]).map(
      (t): OtpToken => ({
        id: t.id,
        kind: t.kind,
        algorithm: t.algorithm,
        digits: t.digits,
        period: t.period,
        t0: t.t0,
        key: this.secretKey(t.secret_sealed),
        counter: t.counter,
        windowPast: t.window_past ?? otp.window_past,
        windowFuture: t.window_future ?? otp.window_future,
        lastStep: t.last_step,
        drift: t.drift,
      }),
    );
    return {
      id: row.id,
      username: row.username,
      status: row.status,
      passwordHash: row.password_hash,
      authMode: row.auth_mode,
      groups: (this.groupsStmt.all(row.id) as Array<{ name: string }>).map((g) => g.name),
      attributesJson: row.attributes,
      tokens,
      failures: row.failures ?? 0,
      lockedUntil: row.locked_until,
    };
  }

  private secretKey(sealed: string): Buffer {
    let key = this.secrets.get(sealed);
    if (!key) {
      key = fromBase32(unseal(this.store.sealKey, sealed, 'token-secret').toString());
      if (this.secrets.size >= SECRET_CACHE_LIMIT) this.secrets.clear();
      this.secrets.set(sealed, key);
    }
    return key;
  }

  consume(tokenId: number, step: number, drift: number): Promise<boolean> {
    return this.batcher.enqueue(() => {
      const now = Date.now();
      if (this.consumeStmt.run(tokenId, step, drift, now).changes !== 1) return false;
      // the master publishes every used step so a code accepted here is refused on every replica
      if (this.store.role === 'master') {
        this.store.logChange({ entity: 'token_state', op: 'upsert', key: String(tokenId), data: { token_id: tokenId, last_step: step, drift } });
        this.store.notifyChanged();
      }
      return true;
    });
  }

  /** Count a failure; true when this one locked the account. */
  recordFailure(userId: number): Promise<boolean> {
    return this.batcher.enqueue(() => {
      const now = Date.now();
      const { failures, locked_until } = this.failureStmt.get(userId, now) as { failures: number; locked_until: number | null };
      const lockout = this.settings().lockout;
      if (lockout.max_failures > 0 && failures >= lockout.max_failures && locked_until === null) {
        this.lockStmt.run(now + lockout.duration_seconds * 1000, userId);
        return true;
      }
      return false;
    });
  }

  recordSuccess(userId: number): Promise<void> {
    return this.batcher.enqueue(() => {
      this.clearStmt.run(userId);
    });
  }

  logAuth(record: AuthLogRecord): void {
    this.batcher.enqueue(() => this.logStmt.run(record)).catch(() => {
      // the audit row is best effort; the log line for the request has already been written
    });
  }

  flush(): void {
    this.batcher.flush();
  }
}
