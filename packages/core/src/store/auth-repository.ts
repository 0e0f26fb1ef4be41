/**
 * The store as the RADIUS hot path uses it. Users come from the UserDirectory (a bounded cache over the configuration
 * database); what changes with every request — replay steps, failure counters, lockouts — is read from the state
 * database for each request and written there, so nothing in memory can run ahead of what is stored, and every RADIUS
 * worker, on this node or another process, sees the same state.
 *
 * Writes go through one group-committed transaction per event-loop turn (WriteBatcher), except a failure, which is
 * committed before the next request is looked at: a burst of guesses meets the lock after `max_failures`, not after a
 * batch. A used step is stored only if the account may still log in at that moment: the lock, the user's status and
 * the token's are read again inside the transaction that stores it.
 */
import { createHmac, randomBytes } from 'node:crypto';
import type { Settings } from '@otpgate/shared';
import type { Selectable } from 'kysely';
import type { AuthUser } from '../auth/types.js';
import type { OtpToken } from '../otp/verify.js';
import { join } from 'node:path';
import { DATA_FILES, type Store } from './store.js';
import { Database } from './database.js';
import { TurnReader } from './turn-reader.js';
import type { StateDB } from './state-schema.js';
import type { AuthLogTable } from './state-schema.js';
import { WriteBatcher } from './write-batcher.js';
import { UserDirectory } from './user-directory.js';
import { USE_STEP_SQL } from './token-state.js';
import type { StoreHealth } from './store-health.js';
import { VpnCredentialTable } from '../vpn/credential-table.js';
import type { PushCreate, PushCreateAnswer, PushDecisionsAnswer, VpnCredentialAnswer } from '@otpgate/shared';
import { PushTable, type PushLimits } from '../push/push-table.js';

/** One authentication as the audit table keeps it. */
export type AuthLogRecord = Omit<Selectable<AuthLogTable>, 'id'>;

/**
 * What became of a step the pipeline wanted to use. 'repeat': this very request used it before (a retransmission
 * that reached a thread without the first answer in its duplicate cache): answer it as before. 'unconfirmed': used
 * here, but the master could not be asked whether another node used it, and cluster.replay_claim is strict.
 */
export type StepUse = 'used' | 'repeat' | 'replay' | 'locked' | 'disabled' | 'no-token' | 'unconfirmed';

/** A challenge waiting for its answer. */
export interface PendingChallenge {
  userId: number;
  username: string;
  /** The RADIUS client that was sent the Access-Challenge: only its answer counts. */
  client: string;
  /** Where the password was checked, and the directory groups it reported, for the final answer. */
  backend: string;
  groups: string[];
  /** Push mode with number matching: the number shown; the answer to this challenge is then held for the push. */
  pushNumber?: string;
}

export interface AuthRepositoryOptions {
  /** Users kept in memory (radius.user_cache_size). */
  maxCachedUsers: number;
  health: StoreHealth;
}

export class AuthRepository {
  readonly users: UserDirectory;
  private readonly batcher: WriteBatcher;
  private readonly lockStmt;
  private readonly stepStmt;
  private readonly reader: TurnReader;
  private readonly readStepStmt;
  private readonly readLockStmt;
  private readonly consumeStmt;
  private readonly failureStmt;
  private readonly lockUserStmt;
  private readonly clearStmt;
  private readonly logStmt;
  private readonly initialLoginStmt;
  private readonly challengeInsertStmt;
  private readonly challengeTakeStmt;
  private readonly claimedStmt;
  private readonly vpnCredentials: VpnCredentialTable;
  private pushTable: PushTable | undefined;

  constructor(
    private readonly store: Store,
    private readonly settings: () => Settings,
    options: AuthRepositoryOptions,
  ) {
    this.users = new UserDirectory(store, settings, options.maxCachedUsers);
    // each batch follows the change log first: the user and token checks inside it see every change made before it
    this.batcher = new WriteBatcher(store.state, options.health, () => this.users.sync());
    const state = store.state;
    this.lockStmt = state.prepare('select failures, locked_until from auth_state where user_id = ?');
    this.stepStmt = state.prepare('select last_step, drift, request_key from token_state where token_id = ?');
    // per-request reads share one read transaction per turn, on a connection of their own (turn-reader.ts)
    this.reader = new TurnReader(Database.openReader<StateDB>(join(store.dataDir, DATA_FILES.state)));
    this.readStepStmt = this.reader.prepare('select last_step, drift, request_key from token_state where token_id = ?');
    // (two plain primary-key reads: a join of both through a constant row costs ten times as much)
    this.readLockStmt = this.reader.prepare('select failures, locked_until from auth_state where user_id = ?');
    this.consumeStmt = state.prepare(USE_STEP_SQL);
    // a failure after an expired lock starts the count afresh
    this.failureStmt = state.prepare(
      `insert into auth_state (user_id, failures, locked_until, updated_at, unreported_failures) values (?, 1, null, ?, 1)
         on conflict (user_id) do update set
           failures = case when locked_until is not null and locked_until <= excluded.updated_at then 1 else failures + 1 end,
           locked_until = case when locked_until is not null and locked_until <= excluded.updated_at then null else locked_until end,
           unreported_failures = unreported_failures + 1,
           updated_at = excluded.updated_at
         returning failures, locked_until`,
    );
    this.lockUserStmt = state.prepare('update auth_state set locked_until = ?, lock_published = 0 where user_id = ?');
    this.clearStmt = state.prepare(
      `update auth_state set failures = 0, locked_until = null, unreported_failures = 0, unreported_success = ?, updated_at = ?
         where user_id = ? and (failures > 0 or locked_until is not null)`,
    );
    this.logStmt = state.prepare(
      `insert into auth_log (at, node, username, client, source, nas_ip, calling_station, result, reason, backend, latency_us, detail, policy)
         values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.initialLoginStmt = state.prepare(
      `insert into initial_logins (user_id, count) values (@user, 1)
         on conflict (user_id) do update set count = count + 1 where initial_logins.count < @max`,
    );
    this.challengeInsertStmt = state.prepare(
      'insert into challenges (state, user_id, username, client, backend, groups, expires_at, push_number) values (?, ?, ?, ?, ?, ?, ?, ?) on conflict (state) do nothing',
    );
    this.claimedStmt = state.prepare('update token_state set reported = 1 where token_id = ? and last_step = ?');
    this.vpnCredentials = new VpnCredentialTable(state);
    this.challengeTakeStmt = state.prepare(
      'delete from challenges where state = ? and client = ? returning user_id, username, client, backend, groups, expires_at, push_number',
    );
  }

  /**
   * The user with their replay steps and lock as stored now; the rest (name, tokens, groups...) as of the last
   * change-log sync, at most a few ms old.
   */
  findUser(username: string): AuthUser | undefined {
    const user = this.users.find(username);
    if (!user) return undefined;
    const lock = this.reader.get<{ failures: number; locked_until: number | null }>(this.readLockStmt, user.id);
    const tokens = user.tokens.map((t): OtpToken => {
      const s = this.reader.get<{ last_step: number; drift: number; request_key: string | null }>(this.readStepStmt, t.id);
      return { ...t, lastStep: s?.last_step ?? -1, drift: s?.drift ?? 0, usedBy: s?.request_key ?? null };
    });
    return { ...user, tokens, failures: lock?.failures ?? 0, lockedUntil: lock?.locked_until ?? null };
  }

  /** The user's lock as stored now (null when not locked). */
  lockedUntil(userId: number): number | null {
    this.reader.refresh();
    return this.reader.get<{ failures: number; locked_until: number | null }>(this.readLockStmt, userId)?.locked_until ?? null;
  }

  /**
   * Store `step` as the token's last used one, if it is past the stored one and the account may log in now (not
   * locked, user and token active: read again inside the transaction). Resolves once committed.
   */
  useStep(user: AuthUser, token: OtpToken, step: number, drift: number, requestKey?: string): Promise<StepUse> {
    return this.batcher.enqueue((): StepUse => {
      const now = Date.now();
      const lock = this.lockStmt.get(user.id) as { locked_until: number | null } | undefined;
      const until = lock?.locked_until ?? null;
      if (until !== null && until > now) return 'locked';
      // the user and the token as the configuration database holds them now (the batch followed the change log first)
      const usable = this.users.confirm(user, token.id);
      if (usable !== 'active') return usable;
      const reported = this.store.role === 'master' && !this.store.publishSteps ? 1 : 0;
      if (this.consumeStmt.run(token.id, step, drift, now, reported, requestKey ?? null).changes === 1) return 'used';
      const stored = this.stepStmt.get(token.id) as { last_step: number; request_key: string | null } | undefined;
      return requestKey !== undefined && stored?.last_step === step && stored.request_key === requestKey ? 'repeat' : 'replay';
    });
  }

  /** A step this replica used and the master confirmed it was first to use: nothing left to report for it. */
  markClaimed(tokenId: number, step: number): void {
    this.batcher.enqueue(() => this.claimedStmt.run(tokenId, step)).catch(() => {
      // only spares a report: the step goes to the master again, which knows it already
    });
  }

  /** `useStep` for callers that only need to know whether the step was theirs (the admin UI and the portal). */
  async consume(user: AuthUser, token: OtpToken, step: number, drift: number): Promise<boolean> {
    return (await this.useStep(user, token, step, drift)) === 'used';
  }

  /** Count a failure, committed before this returns; true when this one locked the account. */
  recordFailure(user: AuthUser): boolean {
    // the next request's read must see this failure (a burst of guesses in one turn)
    this.reader.refresh();
    return this.batcher.runNow(() => {
      const now = Date.now();
      const row = this.failureStmt.get(user.id, now) as { failures: number; locked_until: number | null };
      const lockout = this.settings().lockout;
      const locks = lockout.max_failures > 0 && row.failures >= lockout.max_failures && row.locked_until === null;
      if (locks) this.lockUserStmt.run(now + lockout.duration_seconds * 1000, user.id);
      return locks;
    });
  }

  /** A success ends the run of failures (a replica tells the master, which counts for the cluster). */
  recordSuccess(user: AuthUser): Promise<void> {
    const unreported = this.store.role === 'replica' ? 1 : 0;
    return this.batcher.enqueue(() => {
      this.clearStmt.run(unreported, Date.now(), user.id);
    });
  }

  /** Count a password-only login of a user without a token, if under `max`. Only a master grants these. */
  useInitialLogin(user: AuthUser, max: number): Promise<boolean> {
    if (this.store.role !== 'master') return Promise.resolve(false);
    return this.batcher.enqueue(() => this.initialLoginStmt.run({ user: user.id, max }).changes === 1);
  }

  /**
   * Remember a challenge, stored before the Access-Challenge goes out so any worker can take the answer, and return
   * its State. For a RADIUS request the State is derived from the request (a keyed hash of its source, Identifier and
   * Request Authenticator): a retransmission worked on again by another thread gets the same State, so the same
   * answer; otherwise it is random.
   */
  createChallenge(challenge: PendingChallenge, ttlSeconds: number, requestKey?: string): Promise<Buffer> {
    const c = challenge;
    const state = requestKey === undefined ? randomBytes(16) : createHmac('sha256', this.store.sealKey).update(`challenge-state\0${requestKey}`).digest().subarray(0, 16);
    return this.batcher.enqueue(() => {
      this.challengeInsertStmt.run(state.toString('hex'), c.userId, c.username, c.client, c.backend, JSON.stringify(c.groups), Date.now() + ttlSeconds * 1000, c.pushNumber ?? null);
      return state;
    });
  }

  /** The challenge for `state` sent to `client`, removed so it cannot be answered twice; undefined if unknown or expired. */
  takeChallenge(state: Buffer, client: string): Promise<PendingChallenge | undefined> {
    return this.batcher.enqueue(() => {
      const row = this.challengeTakeStmt.get(state.toString('hex'), client) as
        | { user_id: number; username: string; client: string; backend: string; groups: string; expires_at: number; push_number: string | null }
        | undefined;
      if (!row || row.expires_at <= Date.now()) return undefined;
      const groups = JSON.parse(row.groups) as string[];
      return { userId: row.user_id, username: row.username, client: row.client, backend: row.backend, groups, ...(row.push_number ? { pushNumber: row.push_number } : {}) };
    });
  }

  /**
   * Master: use a one-time VPN credential (by its password's hash) for `user` through `client`, if the user may still
   * log in: the user's status, the lock and the credential are read in the transaction that marks it used.
   */
  useVpnCredential(user: AuthUser, hash: string, client: string, requestKey: string): Promise<VpnCredentialAnswer> {
    return this.batcher.enqueue((): VpnCredentialAnswer => {
      if (!this.users.confirmActive(user)) return { use: 'disabled' };
      return this.vpnCredentials.use({ hash, userId: user.id, client, requestKey });
    });
  }

  /** Master: the push for a held login (push/push-table.ts), made in a write batch. */
  createPush(push: PushCreate & { username: string }, limits: PushLimits): Promise<PushCreateAnswer> {
    const table = (this.pushTable ??= new PushTable(this.store.state));
    return this.batcher.enqueue(() => table.create(push, limits));
  }

  /** Master: pushes decided at or after `since`. */
  pushDecisions(since: number): PushDecisionsAnswer {
    const table = (this.pushTable ??= new PushTable(this.store.state));
    const now = Date.now();
    return { decisions: table.decisionsSince(since), now };
  }

  logAuth(record: AuthLogRecord): void {
    const r = record;
    const row = [r.at, r.node, r.username, r.client, r.source, r.nas_ip, r.calling_station, r.result, r.reason, r.backend, r.latency_us, r.detail, r.policy];
    // best effort: the log line for the request has already been written
    this.batcher.add(() => this.logStmt.run(row));
  }

  /** Commit what is queued, waiting for the lock if needed (shutdown). */
  flush(): void {
    this.batcher.flush(true);
  }

  /** Flush, and close the reading connection (the store's own are the caller's). */
  close(): void {
    this.flush();
    this.reader.close();
  }
}
