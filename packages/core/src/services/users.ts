import {
  InvalidInputError,
  parseWith,
  userRecordSchema,
  type AuthMode,
  type ReplyAttribute,
  type UserRecord,
} from '@otpgate/shared';
import { sql } from 'kysely';
import { hashPassword } from '../backends/local.js';
import type { Change } from '../store/store.js';
import { allocateId, conflict, containsText, recordAdminAction, required, validateAttributes, type Actor, type ServiceContext } from './context.js';

export interface UserInput {
  username: string;
  display_name?: string;
  email?: string;
  password?: string | null;
  groups?: string[];
  auth_mode?: AuthMode | null;
  attributes?: ReplyAttribute[];
  /** Until then the user may log in without a token (to enrol); null = the global allowance. */
  initial_login_until?: number | null;
}

export interface UserSummary extends Omit<UserRecord, 'password_hash'> {
  has_password: boolean;
  tokens: number;
  failures: number;
  locked_until: number | null;
}

export interface UserListQuery {
  search?: string;
  group?: string;
  status?: 'active' | 'disabled';
  hasToken?: boolean;
  locked?: boolean;
  offset?: number;
  limit?: number;
}

/** Users: the one place their rules live, for the CLI and the admin UI alike. */
export class UserService {
  constructor(private readonly ctx: ServiceContext) {}

  private get store() {
    return this.ctx.store;
  }

  find(username: string): UserRecord | undefined {
    const row = this.store.db.first(this.store.db.q.selectFrom('users').select('id').where('username', '=', username));
    return row && this.store.read('user', String(row.id));
  }

  get(username: string): UserRecord {
    return required(this.find(username), 'user', username);
  }

  private checkGroups(groups: readonly string[]): string[] {
    const known = new Map(this.store.readAll('group').map((g) => [g.name.toLowerCase(), g.name]));
    return [...new Set(groups.map((g) => g.trim()).filter(Boolean))].map((g) => {
      const name = known.get(g.toLowerCase());
      if (!name) throw new InvalidInputError(`group "${g}" does not exist (create it with "otpgate group add")`, 'groups');
      return name;
    });
  }

  async add(input: UserInput, actor: Actor): Promise<UserRecord> {
    this.store.assertWritable();
    const password_hash = input.password ? await hashPassword(input.password) : null;
    const now = Date.now();
    const record = this.store.db.transaction(() => {
      // the name as it will be stored: " alice" must meet "alice" here, not the table's UNIQUE constraint
      if (this.find(input.username.trim())) conflict(`user "${input.username.trim()}" already exists`);
      const candidate = {
        id: allocateId(this.store, 'users'),
        username: input.username.trim(),
        display_name: input.display_name ?? '',
        email: input.email ?? '',
        status: 'active' as const,
        password_hash,
        auth_mode: input.auth_mode ?? null,
        groups: this.checkGroups(input.groups ?? []),
        attributes: validateAttributes(this.ctx.dictionary, input.attributes ?? []),
        initial_login_until: input.initial_login_until ?? null,
        created_at: now,
        updated_at: now,
      };
      const valid = parseWith(userRecordSchema, candidate, 'user');
      this.store.commit([{ entity: 'user', op: 'upsert', data: valid }]);
      return valid;
    });
    recordAdminAction(this.ctx, actor, 'user.add', record.username, { after: record });
    return record;
  }

  /** Change profile fields; only the fields given are touched. */
  update(username: string, patch: Omit<UserInput, 'username' | 'password'>, actor: Actor): UserRecord {
    this.store.assertWritable();
    let before: UserRecord | undefined;
    const record = this.store.db.transaction(() => {
      const current = this.get(username);
      before = current;
      const next: UserRecord = {
        ...current,
        display_name: patch.display_name ?? current.display_name,
        email: patch.email ?? current.email,
        auth_mode: patch.auth_mode === undefined ? current.auth_mode : patch.auth_mode,
        groups: patch.groups ? this.checkGroups(patch.groups) : current.groups,
        attributes: patch.attributes ? validateAttributes(this.ctx.dictionary, patch.attributes) : current.attributes,
        initial_login_until: patch.initial_login_until === undefined ? current.initial_login_until : patch.initial_login_until,
        updated_at: Date.now(),
      };
      const valid = parseWith(userRecordSchema, next, 'user');
      this.store.commit([{ entity: 'user', op: 'upsert', data: valid }]);
      return valid;
    });
    recordAdminAction(this.ctx, actor, 'user.update', username, { before, after: record });
    return record;
  }

  /** Set (or with null, remove) the local password. */
  async setPassword(username: string, password: string | null, actor: Actor): Promise<void> {
    this.store.assertWritable();
    const password_hash = password === null ? null : await hashPassword(password);
    this.store.db.transaction(() => {
      const current = this.get(username);
      this.store.commit([{ entity: 'user', op: 'upsert', data: { ...current, password_hash, updated_at: Date.now() } }]);
    });
    recordAdminAction(this.ctx, actor, password === null ? 'user.clear-password' : 'user.set-password', username);
  }

  setStatus(username: string, status: 'active' | 'disabled', actor: Actor): void {
    this.store.assertWritable();
    const before = this.store.db.transaction(() => {
      const current = this.get(username);
      this.store.commit([{ entity: 'user', op: 'upsert', data: { ...current, status, updated_at: Date.now() } }]);
      return current;
    });
    recordAdminAction(this.ctx, actor, status === 'active' ? 'user.enable' : 'user.disable', username, { before, after: { status } });
  }

  unlock(username: string, actor: Actor): void {
    this.store.assertWritable();
    const { id, failures, locked_until } = this.summary(username);
    this.store.commit([{ entity: 'lockout', op: 'upsert', data: { user_id: id } }]);
    recordAdminAction(this.ctx, actor, 'user.unlock', username, { before: { failures, locked_until }, after: { failures: 0, locked_until: null } });
  }

  remove(username: string, actor: Actor): void {
    this.store.assertWritable();
    let before: UserRecord | undefined;
    this.store.db.transaction(() => {
      const user = this.get(username);
      before = user;
      const db = this.store.db;
      // hardware tokens assigned to the user go back to the inventory, on every node
      const released = db.all(
        db.q
          .selectFrom('hardware_tokens')
          .innerJoin('tokens', 'tokens.id', 'hardware_tokens.token_id')
          .select('hardware_tokens.id')
          .where('tokens.user_id', '=', user.id),
      );
      const changes: Change[] = [{ entity: 'user', op: 'delete', key: String(user.id) }];
      for (const { id } of released) {
        const hw = this.store.read('hardware_token', String(id))!;
        changes.push({ entity: 'hardware_token', op: 'upsert', data: { ...hw, token_id: null } });
      }
      this.store.commit(changes);
    });
    recordAdminAction(this.ctx, actor, 'user.remove', username, { before });
  }

  /** A user with token count and lockout state, without the password hash. */
  summary(username: string): UserSummary {
    const user = this.get(username);
    return this.summarize([user])[0]!;
  }

  list(query: UserListQuery = {}): { total: number; users: UserSummary[] } {
    const db = this.store.db;
    const now = Date.now();
    let q = db.q.selectFrom('users');
    if (query.search) {
      const search = query.search;
      q = q.where((eb) => eb.or(['users.username', 'users.display_name', 'users.email'].map((column) => containsText(column, search))));
    }
    if (query.status) q = q.where('users.status', '=', query.status);
    if (query.group) {
      q = q.where('users.id', 'in', (eb) =>
        eb.selectFrom('user_groups').innerJoin('groups', 'groups.id', 'user_groups.group_id').select('user_groups.user_id').where('groups.name', '=', query.group!),
      );
    }
    if (query.hasToken !== undefined) {
      const wanted = query.hasToken;
      q = q.where((eb) => {
        const has = eb.exists(
          eb.selectFrom('tokens').select('tokens.id').whereRef('tokens.user_id', '=', 'users.id').where('tokens.active', '=', 1),
        );
        return wanted ? has : eb.not(has);
      });
    }
    if (query.locked !== undefined) {
      // lockouts live in the state database: the locked ids, handed over as one JSON array
      const state = this.store.state;
      const locked = JSON.stringify(state.all(state.q.selectFrom('auth_state').select('user_id').where('locked_until', '>', now)).map((r) => r.user_id));
      const lockedIds = sql<number>`(select value from json_each(${locked}))`;
      q = q.where('users.id', query.locked ? 'in' : 'not in', lockedIds);
    }
    const total = Number(db.first(q.select((eb) => eb.fn.countAll().as('n')))?.n ?? 0);
    const ids = db
      .all(q.select('users.id').orderBy('users.username').limit(query.limit ?? 50).offset(query.offset ?? 0))
      .map((r) => r.id);
    const users = ids.map((id) => this.store.read('user', String(id))!);
    return { total, users: this.summarize(users) };
  }

  private summarize(users: UserRecord[]): UserSummary[] {
    if (users.length === 0) return [];
    const db = this.store.db;
    const ids = users.map((u) => u.id);
    const tokenCounts = new Map(
      db
        .all(db.q.selectFrom('tokens').select(['user_id', (eb) => eb.fn.countAll().as('n')]).where('user_id', 'in', ids).where('active', '=', 1).groupBy('user_id'))
        .map((r) => [r.user_id, Number(r.n)]),
    );
    const state = this.store.state;
    const states = new Map(state.all(state.q.selectFrom('auth_state').selectAll().where('user_id', 'in', ids)).map((s) => [s.user_id, s]));
    return users.map(({ password_hash, ...u }) => ({
      ...u,
      has_password: password_hash !== null,
      tokens: tokenCounts.get(u.id) ?? 0,
      failures: states.get(u.id)?.failures ?? 0,
      locked_until: states.get(u.id)?.locked_until ?? null,
    }));
  }
}
