/**
 * Users as the RADIUS hot path reads them: the configuration part (name, status, password hash, mode, groups, reply
 * attributes, tokens with their secrets unsealed) of the users asked for lately, in a cache with a size limit, read
 * from the configuration database on a miss (three indexed reads). Nothing is loaded up front, so a node answers at
 * once with any number of users and its memory follows `maxUsers`, not the user count.
 *
 * After start the cache is filled in the background, a small chunk of users per turn of the event loop, up to its
 * limit: the users a NAS will ask for are then in memory before they log in, as a RADIUS server's users file would
 * be, without a pause at start and without memory beyond `maxUsers`.
 *
 * The cache follows the change log: at most every SYNC_INTERVAL_MS (and at once after a change made in this thread)
 * the entries after the last one seen are read in one query and the users they touch are dropped from the cache. The
 * work is bounded whatever happened: past MAX_CHANGES entries behind, or when the log was replaced (a snapshot) or
 * rewritten, the whole cache is dropped instead, which costs nothing per user. No query per changed row, no reload
 * of every user.
 */
import { LRUCache } from 'lru-cache';
import { unseal, type Settings } from '@otpgate/shared';
import type { Selectable } from 'kysely';
import type { AuthUser } from '../auth/types.js';
import type { TokensTable, UsersTable } from './schema.js';
import type { OtpToken } from '../otp/verify.js';
import { fromBase32 } from '../otp/secret.js';
import type { Store } from './store.js';
import { changeHashAt, logBase, type ChangeHead } from './change-log.js';

/** A token as cached: everything but its replay state, which is read fresh for every request. */
export type CachedToken = Omit<OtpToken, 'lastStep' | 'drift' | 'usedBy'>;

/** A user as cached: everything but the failure count and lock, read fresh for every request. */
export type CachedUser = Omit<AuthUser, 'tokens' | 'failures' | 'lockedUntil'> & { tokens: CachedToken[] };

type UserRow = Pick<Selectable<UsersTable>, 'id' | 'username' | 'status' | 'password_hash' | 'auth_mode' | 'attributes' | 'created_at' | 'initial_login_until'> & {
  has_disabled_tokens: 0 | 1;
};

type TokenRow = Pick<
  Selectable<TokensTable>,
  'id' | 'kind' | 'algorithm' | 'digits' | 'period' | 't0' | 'secret_sealed' | 'counter' | 'window_past' | 'window_future'
>;

interface ChangeRow {
  entity: string;
  key: string;
  owner: number | null;
}

const SYNC_INTERVAL_MS = 20;
/** Users read per turn of the event loop while warming the cache (a few milliseconds of work). */
const WARM_CHUNK = 200;
/** Past this many log entries behind, drop the whole cache rather than look at each entry. */
const MAX_CHANGES = 5000;

export class UserDirectory {
  private readonly cache: LRUCache<string, CachedUser>;
  /** Cached names per user id (a NAS may send one name in several spellings), and each cached token's owner. */
  private readonly names = new Map<number, Set<string>>();
  private readonly owners = new Map<number, number>();
  private loadedSeq = -1;
  private loadedHash = '';
  private loadedBase = -1;
  private seenLocalChanges = -1;
  private checkedAt = -Infinity;
  private readonly userStmt;
  private readonly tokensStmt;
  private readonly groupsStmt;
  private readonly changesStmt;
  private readonly headStmt;
  private readonly pageStmt;
  private readonly pageTokensStmt;
  private readonly pageGroupsStmt;
  private readonly maxUsers: number;
  private warming: Promise<number> | undefined;
  private stopped = false;

  constructor(
    private readonly store: Store,
    private readonly settings: () => Settings,
    maxUsers: number,
  ) {
    const db = store.db;
    this.maxUsers = Math.max(1, maxUsers);
    this.cache = new LRUCache<string, CachedUser>({ max: this.maxUsers, dispose: (user, name) => this.forget(user, name) });
    this.userStmt = db.prepare(
      `select id, username, status, password_hash, auth_mode, attributes, created_at, initial_login_until,
              exists(select 1 from tokens t where t.user_id = users.id and t.active = 0) as has_disabled_tokens
         from users where username = ?`,
    );
    this.tokensStmt = db.prepare(
      `select id, kind, algorithm, digits, period, t0, secret_sealed, counter, window_past, window_future
         from tokens where user_id = ? and active = 1 order by id`,
    );
    this.groupsStmt = db.prepare(
      'select g.name from user_groups ug join groups g on g.id = ug.group_id where ug.user_id = ? order by g.name',
    ).pluck();
    this.pageStmt = db.prepare(
      `select id, username, status, password_hash, auth_mode, attributes, created_at, initial_login_until,
              exists(select 1 from tokens t where t.user_id = users.id and t.active = 0) as has_disabled_tokens
         from users where id > ? order by id limit ?`,
    );
    this.pageTokensStmt = db.prepare(
      `select user_id, id, kind, algorithm, digits, period, t0, secret_sealed, counter, window_past, window_future
         from tokens where user_id in (select value from json_each(?)) and active = 1 order by id`,
    );
    this.pageGroupsStmt = db.prepare(
      `select ug.user_id, g.name from user_groups ug join groups g on g.id = ug.group_id
         where ug.user_id in (select value from json_each(?)) order by g.name`,
    );
    this.headStmt = db.prepare('select seq, hash from changes order by seq desc limit 1');
    // a token's owner from its payload, so a token change finds the user to drop without a query per entry
    this.changesStmt = db.prepare(
      `select entity, key, case when entity = 'token' then json_extract(payload, '$.user_id') end as owner
         from changes where seq > ? and seq <= ? and entity in ('user', 'token', 'group', 'settings') order by seq`,
    );
  }

  /**
   * Fill the cache in the background, WARM_CHUNK users per turn, until it is full or every user is in; resolves with
   * the number of users cached then (at once when it already ran). Users already cached (asked for meanwhile) are
   * left as they are; a chunk is read and cached in one turn, so no change can land between the read and the cache (a
   * later one drops the user again, as for any cached user).
   */
  warm(): Promise<number> {
    this.warming ??= new Promise<number>((resolve) => {
      let after = 0;
      const step = () => {
        if (this.stopped) return resolve(this.cache.size);
        this.syncIfDue();
        const rows = this.pageStmt.all(after, WARM_CHUNK) as UserRow[];
        if (rows.length > 0) {
          after = rows[rows.length - 1]!.id;
          const ids = JSON.stringify(rows.map((r) => r.id));
          const tokens = Map.groupBy(this.pageTokensStmt.all(ids) as Array<TokenRow & { user_id: number }>, (t) => t.user_id);
          const groups = Map.groupBy(this.pageGroupsStmt.all(ids) as Array<{ user_id: number; name: string }>, (g) => g.user_id);
          for (const row of rows) {
            if (this.cache.size >= this.maxUsers) break;
            if (this.cache.has(row.username)) continue;
            this.remember(row.username, this.toUser(row, tokens.get(row.id) ?? [], (groups.get(row.id) ?? []).map((g) => g.name)));
          }
        }
        if (rows.length < WARM_CHUNK || this.cache.size >= this.maxUsers) resolve(this.cache.size);
        else setImmediate(step);
      };
      setImmediate(step);
    });
    return this.warming;
  }

  /** Stop warming (the thread is stopping). */
  stopWarming(): void {
    this.stopped = true;
  }

  /** How many users are cached now. */
  get size(): number {
    return this.cache.size;
  }

  /** The user named `username` (the database compares names without case), current as of the last sync. */
  find(username: string): CachedUser | undefined {
    this.syncIfDue();
    const cached = this.cache.get(username);
    if (cached) return cached;
    const user = this.read(username);
    if (user) this.remember(username, user);
    return user;
  }

  private syncIfDue(): void {
    const now = performance.now();
    if (this.seenLocalChanges === this.store.localChanges && now - this.checkedAt < SYNC_INTERVAL_MS) return;
    this.checkedAt = now;
    this.seenLocalChanges = this.store.localChanges;
    this.sync();
  }

  /**
   * Whether `user` may still log in with `tokenId`, as of the last sync: for the check a write repeats inside its own
   * transaction, after a sync in that transaction (AuthRepository's batch syncs once per batch), so a change committed
   * by anyone before the batch counts. A user the change log touched is read again; the others are answered from
   * memory.
   */
  confirm(user: { id: number; username: string }, tokenId: number): 'active' | 'disabled' | 'no-token' {
    const current = this.current(user);
    if (!current) return 'no-token';
    if (current.status !== 'active') return 'disabled';
    return current.tokens.some((t) => t.id === tokenId) ? 'active' : 'no-token';
  }

  /** Whether `user` exists and is active, as of the last sync (the same rules as `confirm`, without a token). */
  confirmActive(user: { id: number; username: string }): boolean {
    return this.current(user)?.status === 'active';
  }

  private current(user: { id: number; username: string }) {
    let current = this.cache.peek(user.username);
    if (current?.id !== user.id) {
      current = this.read(user.username);
      if (current) this.remember(user.username, current);
    }
    return current?.id === user.id ? current : undefined;
  }

  /** Bring the cache up to the change log's head (bounded work, see the file's comment). */
  sync(): void {
    this.checkedAt = performance.now();
    const newest = this.headStmt.get() as ChangeHead | undefined;
    if (newest && newest.seq === this.loadedSeq && newest.hash === this.loadedHash) return;
    const head = newest ?? logBase(this.store.db);
    const base = logBase(this.store.db).seq;
    const continues =
      this.loadedSeq >= base &&
      base === this.loadedBase &&
      head.seq > this.loadedSeq &&
      head.seq - this.loadedSeq <= MAX_CHANGES &&
      changeHashAt(this.store.db, this.loadedSeq) === this.loadedHash;
    if (continues) this.apply(this.changesStmt.all(this.loadedSeq, head.seq) as ChangeRow[]);
    else this.clear();
    this.loadedSeq = head.seq;
    this.loadedHash = head.hash;
    this.loadedBase = base;
  }

  /** Drop every cached user (a snapshot, settings that change every token's window, a group change). */
  clear(): void {
    this.cache.clear();
  }

  private apply(changes: readonly ChangeRow[]): void {
    for (const c of changes) {
      if (c.entity === 'group' || c.entity === 'settings') {
        this.clear();
        return;
      }
      if (c.entity === 'user') this.drop(Number(c.key));
      else if (c.entity === 'token') {
        const owner = this.owners.get(Number(c.key));
        if (owner !== undefined) this.drop(owner);
        if (c.owner !== null) this.drop(c.owner);
      }
    }
  }

  private drop(userId: number): void {
    const names = this.names.get(userId);
    if (names) for (const name of [...names]) this.cache.delete(name);
  }

  private remember(name: string, user: CachedUser): void {
    this.cache.set(name, user);
    let names = this.names.get(user.id);
    if (!names) this.names.set(user.id, (names = new Set()));
    names.add(name);
    for (const t of user.tokens) this.owners.set(t.id, user.id);
  }

  /** Called by the cache for every entry that leaves it (evicted, dropped, replaced). */
  private forget(user: CachedUser, name: string): void {
    const names = this.names.get(user.id);
    names?.delete(name);
    if (names && names.size > 0) return;
    this.names.delete(user.id);
    for (const t of user.tokens) if (this.owners.get(t.id) === user.id) this.owners.delete(t.id);
  }

  private read(username: string): CachedUser | undefined {
    const row = this.userStmt.get(username) as UserRow | undefined;
    if (!row) return undefined;
    return this.toUser(row, this.tokensStmt.all(row.id) as TokenRow[], this.groupsStmt.all(row.id) as string[]);
  }

  private toUser(row: UserRow, tokens: readonly TokenRow[], groups: string[]): CachedUser {
    const otp = this.settings().otp;
    return {
      id: row.id,
      username: row.username,
      status: row.status,
      passwordHash: row.password_hash,
      authMode: row.auth_mode,
      groups,
      attributesJson: row.attributes,
      tokens: tokens.map((t) => ({
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
      })),
      createdAt: row.created_at,
      initialLoginUntil: row.initial_login_until,
      hasDisabledTokens: row.has_disabled_tokens === 1,
    };
  }
}
