import { unseal, type AuthMode, type OtpAlgorithm, type OtpKind, type Settings } from '@otpgate/shared';
import type { AuthUser } from '../auth/types.js';
import type { OtpToken } from '../otp/verify.js';
import { fromBase32 } from '../otp/secret.js';
import type { Selectable } from 'kysely';
import type { Store } from './store.js';
import type { AuthLogTable } from './schema.js';
import { WriteBatcher } from './write-batcher.js';
import { logBase } from './change-log.js';

interface UserRow {
  id: number;
  username: string;
  status: 'active' | 'disabled';
  password_hash: string | null;
  auth_mode: AuthMode | null;
  attributes: string;
  created_at: number;
  initial_login_until: number | null;
  has_disabled_tokens: 0 | 1;
}

interface TokenRow {
  id: number;
  user_id: number;
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

/** One authentication as the audit table keeps it. */
export type AuthLogRecord = Omit<Selectable<AuthLogTable>, 'id'>;

const SYNC_INTERVAL_MS = 20;

/**
 * The store as the RADIUS hot path uses it. Users, with their tokens (secrets in clear), groups and lockout state,
 * are held in memory and kept current from the change log (checked on every lookup, so a disabled user is refused at
 * once, whichever process disabled them). Writes (steps, failures, audit rows) go through one group-committed
 * transaction per event-loop turn, and an accept is never answered before the step it used is stored.
 */
export class AuthRepository {
  private readonly batcher: WriteBatcher;
  private byName = new Map<string, AuthUser>();
  private byId = new Map<number, AuthUser>();
  private byToken = new Map<number, { user: AuthUser; token: OtpToken }>();
  private loadedSeq = -1;
  /** The head's hash as loaded, so a re-sync onto a different history at the same number is noticed. */
  private loadedHash = '';
  private loadedBase = '';
  private seenLocalChanges = -1;
  private checkedAt = 0;
  private readonly userStmt;
  private readonly tokensStmt;
  private readonly groupsStmt;
  private readonly stateStmt;
  private readonly changesStmt;
  private readonly consumeStmt;
  private readonly failureStmt;
  private readonly lockStmt;
  private readonly clearStmt;
  private readonly logStmt;
  private readonly initialLoginStmt;

  constructor(
    private readonly store: Store,
    private readonly settings: () => Settings,
  ) {
    const db = store.db;
    this.batcher = new WriteBatcher(db);
    // "@id is null" selects every row: the same statements load all users at start and one user on a change
    this.userStmt = db.prepare(
      `select id, username, status, password_hash, auth_mode, attributes, created_at, initial_login_until,
              exists(select 1 from tokens t where t.user_id = users.id and t.active = 0) as has_disabled_tokens
         from users where @id is null or id = @id`,
    );
    this.tokensStmt = db.prepare(
      `select t.id, t.user_id, t.kind, t.algorithm, t.digits, t.period, t.t0, t.secret_sealed, t.counter, t.window_past,
              t.window_future, coalesce(s.last_step, -1) as last_step, coalesce(s.drift, 0) as drift
         from tokens t left join token_state s on s.token_id = t.id where t.active = 1 and (@id is null or t.user_id = @id)
         order by t.id`,
    );
    this.groupsStmt = db.prepare(
      `select ug.user_id, g.name from user_groups ug join groups g on g.id = ug.group_id
         where @id is null or ug.user_id = @id order by g.name`,
    );
    this.stateStmt = db.prepare('select user_id, failures, locked_until from auth_state where @id is null or user_id = @id');
    this.changesStmt = db.prepare(
      `select entity, op, key, payload from changes
         where seq > ? and entity in ('user', 'token', 'token_state', 'group', 'lockout') order by seq`,
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
      `insert into auth_log (at, node, username, client, source, nas_ip, calling_station, result, reason, backend, latency_us, detail, policy)
         values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.initialLoginStmt = db.prepare(
      `insert into initial_logins (user_id, count) values (@user, 1)
         on conflict (user_id) do update set count = count + 1 where initial_logins.count < @max`,
    );
  }

  /**
   * The user, current as of the last committed change. Changes made in this process are seen at once (a counter
   * compare); another process's (the CLI's) within SYNC_INTERVAL_MS, without a query on every request.
   */
  findUser(username: string): AuthUser | undefined {
    const now = performance.now();
    if (this.seenLocalChanges !== this.store.localChanges || now - this.checkedAt >= SYNC_INTERVAL_MS) {
      this.checkedAt = now;
      this.seenLocalChanges = this.store.localChanges;
      this.sync();
    }
    return this.byName.get(username.toLowerCase());
  }

  /** Bring the in-memory users up to the change log's head: changed users are re-read, a snapshot reloads all. */
  sync(): void {
    const { seq: head, hash } = this.store.head();
    if (head === this.loadedSeq && hash === this.loadedHash) return;
    const { seq: baseSeq, hash: baseHash } = logBase(this.store.db);
    const base = `${baseSeq}:${baseHash}`;
    if (base !== this.loadedBase || this.loadedSeq < 0) {
      this.loadAll();
      this.loadedSeq = head;
      this.loadedHash = hash;
      this.loadedBase = base;
      return;
    }
    const changed = new Set<number>();
    let everyone = false;
    for (const c of this.changesStmt.all(this.loadedSeq) as Array<{ entity: string; op: string; key: string; payload: string | null }>) {
      if (c.entity === 'group') everyone = true;
      else if (c.entity === 'user' || c.entity === 'lockout') changed.add(Number(c.key));
      else if (c.entity === 'token') {
        const owner = this.tokenOwner(Number(c.key)) ?? (c.payload ? (JSON.parse(c.payload) as { user_id: number }).user_id : undefined);
        if (owner !== undefined) changed.add(owner);
        if (c.payload) changed.add((JSON.parse(c.payload) as { user_id: number }).user_id);
      } else if (c.entity === 'token_state' && c.payload) {
        const s = JSON.parse(c.payload) as { token_id: number; last_step: number; drift: number };
        this.noteStep(s.token_id, s.last_step, s.drift);
      }
    }
    this.loadedSeq = head;
    this.loadedHash = hash;
    if (everyone) this.loadAll();
    else for (const id of changed) this.reload(id);
  }

  private tokenOwner(tokenId: number): number | undefined {
    return this.byToken.get(tokenId)?.user.id;
  }

  private noteStep(tokenId: number, step: number, drift: number): void {
    const t = this.byToken.get(tokenId)?.token;
    if (t && step > t.lastStep) {
      t.lastStep = step;
      t.drift = drift;
    }
  }

  private loadAll(): void {
    this.byId = new Map();
    this.byName = new Map();
    this.byToken = new Map();
    for (const user of this.read(null)) this.index(user);
  }

  private index(user: AuthUser): void {
    this.byId.set(user.id, user);
    this.byName.set(user.username.toLowerCase(), user);
    for (const token of user.tokens) this.byToken.set(token.id, { user, token });
  }

  private reload(userId: number): void {
    const old = this.byId.get(userId);
    if (old) {
      this.byName.delete(old.username.toLowerCase());
      for (const t of old.tokens) this.byToken.delete(t.id);
    }
    this.byId.delete(userId);
    const [user] = this.read(userId);
    if (user) this.index(user);
  }

  /** Users (all when `userId` is null) with tokens, groups and lockout state, secrets unsealed. */
  private read(userId: number | null): AuthUser[] {
    const otp = this.settings().otp;
    const users = new Map<number, AuthUser>();
    for (const row of this.userStmt.all({ id: userId }) as UserRow[]) {
      users.set(row.id, {
        id: row.id,
        username: row.username,
        status: row.status,
        passwordHash: row.password_hash,
        authMode: row.auth_mode,
        groups: [],
        attributesJson: row.attributes,
        tokens: [],
        failures: 0,
        lockedUntil: null,
        createdAt: row.created_at,
        initialLoginUntil: row.initial_login_until,
        hasDisabledTokens: row.has_disabled_tokens === 1,
      });
    }
    for (const t of this.tokensStmt.all({ id: userId }) as TokenRow[]) {
      users.get(t.user_id)?.tokens.push({
        id: t.id,
        kind: t.kind,
        algorithm: t.algorithm,
        digits: t.digits,
        period: t.period,
        t0: t.t0,
        key: fromBase32(unseal(this.store.sealKey, t.secret_sealed, 'token-secret').toString()),
        counter: t.counter,
        windowPast: t.window_past ?? otp.window_past,
        windowFuture: t.window_future ?? otp.window_future,
        lastStep: t.last_step,
        drift: t.drift,
      });
    }
    for (const g of this.groupsStmt.all({ id: userId }) as Array<{ user_id: number; name: string }>) users.get(g.user_id)?.groups.push(g.name);
    for (const s of this.stateStmt.all({ id: userId }) as Array<{ user_id: number; failures: number; locked_until: number | null }>) {
      const u = users.get(s.user_id);
      if (u) {
        u.failures = s.failures;
        u.lockedUntil = s.locked_until;
      }
    }
    return [...users.values()];
  }

  consume(token: OtpToken, step: number, drift: number): Promise<boolean> {
    return this.batcher.enqueue(() => {
      if (this.consumeStmt.run(token.id, step, drift, Date.now()).changes !== 1) return false;
      if (step > token.lastStep) {
        token.lastStep = step;
        token.drift = drift;
      }
      // a master with replicas publishes every used step, so a code accepted here is refused on every node
      if (this.store.role === 'master' && this.store.publishSteps) {
        this.store.logChange({ entity: 'token_state', op: 'upsert', key: String(token.id), data: { token_id: token.id, last_step: step, drift } });
        this.store.notifyChanged(false);
      }
      return true;
    });
  }

  /** Count a failure; true when this one locked the account. */
  recordFailure(user: AuthUser): Promise<boolean> {
    return this.batcher.enqueue(() => {
      const now = Date.now();
      const row = this.failureStmt.get(user.id, now) as { failures: number; locked_until: number | null };
      const lockout = this.settings().lockout;
      let lockedUntil = row.locked_until;
      const locks = lockout.max_failures > 0 && row.failures >= lockout.max_failures && lockedUntil === null;
      if (locks) {
        lockedUntil = now + lockout.duration_seconds * 1000;
        this.lockStmt.run(lockedUntil, user.id);
      }
      user.failures = row.failures;
      user.lockedUntil = lockedUntil;
      return locks;
    });
  }

  recordSuccess(user: AuthUser): Promise<void> {
    return this.batcher.enqueue(() => {
      this.clearStmt.run(user.id);
      user.failures = 0;
      user.lockedUntil = null;
    });
  }

  /** Count a password-only login of a user without a token, if under `max`. Only a master grants these. */
  useInitialLogin(user: AuthUser, max: number): Promise<boolean> {
    if (this.store.role !== 'master') return Promise.resolve(false);
    return this.batcher.enqueue(
      () =>
        this.initialLoginStmt.run({ user: user.id, max }).changes === 1,
    );
  }

  logAuth(record: AuthLogRecord): void {
    const r = record;
    const row = [r.at, r.node, r.username, r.client, r.source, r.nas_ip, r.calling_station, r.result, r.reason, r.backend, r.latency_us, r.detail, r.policy];
    this.batcher.enqueue(() => this.logStmt.run(row)).catch(() => {
      // the audit row is best effort; the log line for the request has already been written
    });
  }

  flush(): void {
    this.batcher.flush();
  }
}
