import {
  EnrolmentRefusedError,
  InvalidInputError,
  hardwareTokenRecordSchema,
  parseWith,
  tokenRecordSchema,
  type HardwareTokenRecord,
  type OtpAlgorithm,
  type OtpKind,
  type TokenRecord,
  type UserRecord,
} from '@otpgate/shared';
import { grantRefusal, type EnrolmentGrant, type EnrolmentState } from '../auth/enrollment.js';
import { fromBase32, generateSecret, parseSecret, toBase32 } from '../otp/secret.js';
import { provisioningUri } from '../otp/uri.js';
import { findConsecutive, type OtpToken } from '../otp/verify.js';
import { allocateId, conflict, containsText, recordAdminAction, required, type Actor, type ServiceContext } from './context.js';
import { UserService } from './users.js';

export interface TokenParameters {
  kind?: OtpKind;
  algorithm?: OtpAlgorithm;
  digits?: 6 | 8;
  period?: 30 | 60;
  /** base32 or hex; generated (160+ bits) when absent. */
  secret?: string;
  counter?: number;
  t0?: number;
}

/** Token parameters with the defaults filled in and the secret in base32. */
type ResolvedParameters = Required<Omit<TokenParameters, 'secret'>> & { secret: string };

export type NewTokenParameters = TokenParameters & { label?: string; usedStep?: { step: number; drift: number } };

export interface NewToken {
  token: TokenRecord;
  /** The otpauth:// URI: shown once, when the token is made. */
  uri: string;
}

/** A token as shown to admins: never the secret. */
export type TokenView = Omit<TokenRecord, 'secret'> & { username: string; last_step: number; drift: number };
export type HardwareTokenView = Omit<HardwareTokenRecord, 'secret'> & { assigned_to: string | null };

/** Tokens and the hardware token inventory. */
export class TokenService {
  private readonly users: UserService;

  constructor(private readonly ctx: ServiceContext) {
    this.users = new UserService(ctx);
  }

  private get store() {
    return this.ctx.store;
  }

  /** Fill in defaults from settings and check the secret; returns the normalized parameters. */
  private resolve(p: TokenParameters): ResolvedParameters {
    const otp = this.store.settings().otp;
    const algorithm = p.algorithm ?? otp.algorithm;
    const key = p.secret === undefined ? generateSecret(algorithm) : parseSecret(p.secret, otp.min_secret_bits);
    return {
      kind: p.kind ?? 'totp',
      algorithm,
      digits: p.digits ?? otp.digits,
      period: p.period ?? otp.period,
      counter: p.counter ?? 0,
      t0: p.t0 ?? 0,
      secret: toBase32(key),
    };
  }

  private uriFor(username: string, t: Pick<TokenRecord, 'kind' | 'algorithm' | 'digits' | 'period' | 'counter' | 'secret'>): string {
    return provisioningUri({
      kind: t.kind,
      issuer: this.store.settings().otp.issuer,
      account: username,
      key: fromBase32(t.secret),
      algorithm: t.algorithm,
      digits: t.digits,
      period: t.period,
      counter: t.counter,
    });
  }

  /**
   * A new token for the user. `usedStep`: a step the token's code was already seen at (the enrollment portal's
   * confirmation code), stored with it so that code cannot log in afterwards.
   */
  add(username: string, params: NewTokenParameters, actor: Actor): NewToken {
    this.store.assertWritable();
    const resolved = this.resolve(params);
    const token = this.store.db.transaction(() => this.insert(this.users.get(username), resolved, params));
    recordAdminAction(this.ctx, actor, 'token.add', username, { after: token });
    return { token, uri: this.uriFor(username, token) };
  }

  /**
   * A token the user set up in the enrollment portal, added only while what their sign-in allowed still holds: the
   * same account with the same active tokens, not disabled or locked, and the enrolment rules (initial-login
   * allowance, additional tokens) still met. Checked inside the transaction that adds the token, so a second
   * session, or an admin's change meanwhile, cannot be raced.
   */
  enrol(username: string, grant: EnrolmentGrant, params: NewTokenParameters, actor: Actor): NewToken {
    this.store.assertWritable();
    const resolved = this.resolve(params);
    const token = this.store.db.transaction(() => {
      const user = this.users.get(username);
      const refusal = grantRefusal(grant, this.enrolmentState(user), this.store.settings(), Date.now());
      if (refusal) throw new EnrolmentRefusedError(refusal, `${username} may not add this token any more (${refusal}): sign in to the portal again`);
      return this.insert(user, resolved, params);
    });
    recordAdminAction(this.ctx, actor, 'token.add', username, { after: token });
    return { token, uri: this.uriFor(username, token) };
  }

  /** The user as the enrolment rules see them, read from the database (call inside the write transaction). */
  private enrolmentState(user: UserRecord): EnrolmentState {
    const db = this.store.db;
    const tokens = db.all(db.q.selectFrom('tokens').select(['id', 'active']).where('user_id', '=', user.id));
    // the lock is in the state database: read while this transaction holds the configuration database
    const state = this.store.state;
    const lockout = state.first(state.q.selectFrom('auth_state').select('locked_until').where('user_id', '=', user.id));
    return {
      id: user.id,
      status: user.status,
      lockedUntil: lockout?.locked_until ?? null,
      initialLoginUntil: user.initial_login_until,
      createdAt: user.created_at,
      hasDisabledTokens: tokens.some((t) => t.active === 0),
      tokens: tokens.filter((t) => t.active === 1),
    };
  }

  /** Write a new token record (and its used step); call inside the write transaction. */
  private insert(user: UserRecord, resolved: ResolvedParameters, params: NewTokenParameters): TokenRecord {
    const record = parseWith(
      tokenRecordSchema,
      {
        id: allocateId(this.store, 'tokens'),
        user_id: user.id,
        ...resolved,
        window_past: null,
        window_future: null,
        serial: null,
        label: params.label ?? (resolved.kind === 'totp' ? 'authenticator app' : 'HOTP token'),
        active: true,
        created_at: Date.now(),
      },
      'token',
    );
    const used = params.usedStep;
    this.store.commit([
      { entity: 'token', op: 'upsert', data: record },
      ...(used ? [{ entity: 'token_state' as const, op: 'upsert' as const, data: { token_id: record.id, last_step: used.step, drift: used.drift } }] : []),
    ]);
    return record;
  }

  /** The provisioning URI of an existing token (the demo prints it again; the UI never does). */
  uriOf(tokenId: number): string {
    const token = required(this.store.read('token', String(tokenId)), 'token', String(tokenId));
    const user = required(this.store.read('user', String(token.user_id)), 'user', String(token.user_id));
    return this.uriFor(user.username, token);
  }

  list(username?: string): TokenView[] {
    return this.views({ username });
  }

  /** One token as admins see it (the token page and its actions), without reading every token. */
  get(tokenId: number): TokenView {
    return required(Number.isSafeInteger(tokenId) ? this.views({ id: tokenId })[0] : undefined, 'token', String(tokenId));
  }

  private views(filter: { username?: string; id?: number }): TokenView[] {
    const db = this.store.db;
    let q = db.q
      .selectFrom('tokens')
      .innerJoin('users', 'users.id', 'tokens.user_id')
      .select([
        'tokens.id', 'tokens.user_id', 'tokens.kind', 'tokens.algorithm', 'tokens.digits', 'tokens.period', 'tokens.t0',
        'tokens.counter', 'tokens.window_past', 'tokens.window_future', 'tokens.serial', 'tokens.label', 'tokens.active',
        'tokens.created_at', 'users.username',
      ])
      .orderBy('users.username')
      .orderBy('tokens.id');
    if (filter.username !== undefined) q = q.where('users.username', '=', filter.username);
    if (filter.id !== undefined) q = q.where('tokens.id', '=', filter.id);
    const rows = db.all(q);
    // replay steps live in the state database: one query for the tokens listed
    const state = this.store.state;
    const steps = new Map(
      rows.length === 0
        ? []
        : state
            .all(state.q.selectFrom('token_state').select(['token_id', 'last_step', 'drift']).where('token_id', 'in', rows.map((r) => r.id)))
            .map((s) => [s.token_id, s]),
    );
    return rows.map((r) => ({ ...r, active: r.active === 1, last_step: steps.get(r.id)?.last_step ?? -1, drift: steps.get(r.id)?.drift ?? 0 }));
  }

  private getToken(tokenId: number): TokenRecord {
    return required(this.store.read('token', String(tokenId)), 'token', String(tokenId));
  }

  remove(tokenId: number, actor: Actor): void {
    this.store.assertWritable();
    const before = this.store.db.transaction(() => {
      const token = this.getToken(tokenId);
      const hw = this.hardwareByToken(token.id);
      this.store.commit([
        { entity: 'token', op: 'delete', key: String(token.id) },
        ...(hw ? [{ entity: 'hardware_token' as const, op: 'upsert' as const, data: { ...hw, token_id: null } }] : []),
      ]);
      return token;
    });
    recordAdminAction(this.ctx, actor, 'token.remove', String(tokenId), { before });
  }

  setActive(tokenId: number, active: boolean, actor: Actor): void {
    this.store.assertWritable();
    const before = this.store.db.transaction(() => {
      const token = this.getToken(tokenId);
      this.store.commit([{ entity: 'token', op: 'upsert', data: { ...token, active } }]);
      return token;
    });
    recordAdminAction(this.ctx, actor, active ? 'token.enable' : 'token.disable', String(tokenId), { before, after: { active } });
  }

  /** Per-token acceptance window; null falls back to the global setting. */
  setWindow(tokenId: number, windowPast: number | null, windowFuture: number | null, actor: Actor): void {
    this.store.assertWritable();
    const before = this.store.db.transaction(() => {
      const token = this.getToken(tokenId);
      const record = parseWith(tokenRecordSchema, { ...token, window_past: windowPast, window_future: windowFuture }, 'token');
      this.store.commit([{ entity: 'token', op: 'upsert', data: record }]);
      return token;
    });
    recordAdminAction(this.ctx, actor, 'token.window', String(tokenId), { before, after: { window_past: windowPast, window_future: windowFuture } });
  }

  /** Resynchronise a drifted token (or a HOTP token pressed many times) from two consecutive codes. */
  resync(tokenId: number, first: string, second: string, actor: Actor, now = Date.now()): void {
    this.store.assertWritable();
    const change = this.store.db.transaction(() => {
      const t = this.getToken(tokenId);
      const state = this.store.read('token_state', String(t.id));
      const otp: OtpToken = {
        id: t.id, kind: t.kind, algorithm: t.algorithm, digits: t.digits, period: t.period, t0: t.t0,
        key: fromBase32(t.secret), counter: t.counter, windowPast: 0, windowFuture: 0,
        lastStep: state?.last_step ?? -1, drift: state?.drift ?? 0,
      };
      const found = findConsecutive(otp, first.trim(), second.trim(), now, this.store.settings().otp.resync_window);
      if (!found) {
        throw new InvalidInputError('the two codes are not consecutive codes of this token within the resync window; enter two fresh codes in order');
      }
      const after = { token_id: t.id, last_step: found.step, drift: found.drift };
      this.store.commit([{ entity: 'token_state', op: 'upsert', data: after }]);
      // the state is what a resync changes; a token never used has none yet
      return { before: state ?? null, after };
    });
    recordAdminAction(this.ctx, actor, 'token.resync', String(tokenId), change);
  }

  /**
   * Forget the token's used steps (and drift) on every node: its token_state row is deleted through the change log.
   * The way back when a step far in the future (a bad report, a clock far ahead) makes every code a replay; codes
   * used within the current window become usable once more, which is the admin's call.
   */
  resetReplay(tokenId: number, actor: Actor): void {
    this.store.assertWritable();
    const before = this.store.db.transaction(() => {
      const token = this.getToken(tokenId);
      const state = this.store.read('token_state', String(token.id));
      this.store.commit([{ entity: 'token_state', op: 'delete', key: String(token.id) }]);
      return state ?? null;
    });
    recordAdminAction(this.ctx, actor, 'token.reset-replay', String(tokenId), { before, after: null });
  }

  // --- hardware token inventory ---

  private hardwareByToken(tokenId: number): HardwareTokenRecord | undefined {
    const row = this.store.db.first(this.store.db.q.selectFrom('hardware_tokens').select('id').where('token_id', '=', tokenId));
    return row && this.store.read('hardware_token', String(row.id));
  }

  findHardware(serial: string): HardwareTokenRecord | undefined {
    const row = this.store.db.first(this.store.db.q.selectFrom('hardware_tokens').select('id').where('serial', '=', serial));
    return row && this.store.read('hardware_token', String(row.id));
  }

  addHardware(input: TokenParameters & { serial: string; manufacturer?: string; model?: string }, actor: Actor): HardwareTokenRecord {
    this.store.assertWritable();
    if (input.secret === undefined) throw new InvalidInputError('a hardware token needs the secret from its seed file', 'secret');
    const resolved = this.resolve(input);
    const record = this.store.db.transaction(() => {
      if (this.findHardware(input.serial.trim())) conflict(`hardware token ${input.serial} is already in the inventory`);
      const { t0: _t0, ...otp } = resolved;
      const hw = parseWith(
        hardwareTokenRecordSchema,
        {
          id: allocateId(this.store, 'hardware_tokens'),
          serial: input.serial.trim(),
          ...otp,
          manufacturer: input.manufacturer ?? '',
          model: input.model ?? '',
          token_id: null,
          created_at: Date.now(),
        },
        'hardware token',
      );
      this.store.commit([{ entity: 'hardware_token', op: 'upsert', data: hw }]);
      return hw;
    });
    recordAdminAction(this.ctx, actor, 'hardware.add', record.serial, { after: record });
    return record;
  }

  /** Assign an inventory token to a user: the user gets a token with a copy of its secret. */
  assign(serial: string, username: string, actor: Actor): TokenRecord {
    this.store.assertWritable();
    const token = this.store.db.transaction(() => {
      const hw = required(this.findHardware(serial), 'hardware token', serial);
      if (hw.token_id !== null) {
        const holder = this.get(hw.token_id).username;
        conflict(`hardware token ${serial} is already assigned to ${holder}; unassign it first`);
      }
      const user = this.users.get(username);
      const record = parseWith(
        tokenRecordSchema,
        {
          id: allocateId(this.store, 'tokens'),
          user_id: user.id,
          kind: hw.kind,
          algorithm: hw.algorithm,
          digits: hw.digits,
          period: hw.period,
          t0: 0,
          secret: hw.secret,
          counter: hw.counter,
          window_past: null,
          window_future: null,
          serial: hw.serial,
          label: [hw.manufacturer, hw.model].filter(Boolean).join(' ') || 'hardware token',
          active: true,
          created_at: Date.now(),
        },
        'token',
      );
      this.store.commit([
        { entity: 'token', op: 'upsert', data: record },
        { entity: 'hardware_token', op: 'upsert', data: { ...hw, token_id: record.id } },
      ]);
      return record;
    });
    recordAdminAction(this.ctx, actor, 'hardware.assign', serial, { after: { user: username, token: token.id } });
    return token;
  }

  /** Take a hardware token back from its user (the user's copy is removed). */
  unassign(serial: string, actor: Actor): void {
    this.store.assertWritable();
    const before = this.store.db.transaction(() => {
      const hw = required(this.findHardware(serial), 'hardware token', serial);
      if (hw.token_id === null) throw new InvalidInputError(`hardware token ${serial} is not assigned`);
      const holder = this.get(hw.token_id).username;
      this.store.commit([
        { entity: 'token', op: 'delete', key: String(hw.token_id) },
        { entity: 'hardware_token', op: 'upsert', data: { ...hw, token_id: null } },
      ]);
      return { ...hw, assigned_to: holder };
    });
    recordAdminAction(this.ctx, actor, 'hardware.unassign', serial, { before, after: { token_id: null } });
  }

  removeHardware(serial: string, actor: Actor): void {
    this.store.assertWritable();
    const before = this.store.db.transaction(() => {
      const hw = required(this.findHardware(serial), 'hardware token', serial);
      if (hw.token_id !== null) conflict(`hardware token ${serial} is assigned; unassign it first`);
      this.store.commit([{ entity: 'hardware_token', op: 'delete', key: String(hw.id) }]);
      return hw;
    });
    recordAdminAction(this.ctx, actor, 'hardware.remove', serial, { before });
  }

  listHardware(filter: { assigned?: boolean; search?: string; limit?: number } = {}): HardwareTokenView[] {
    const db = this.store.db;
    let q = db.q
      .selectFrom('hardware_tokens')
      .leftJoin('tokens', 'tokens.id', 'hardware_tokens.token_id')
      .leftJoin('users', 'users.id', 'tokens.user_id')
      .select([
        'hardware_tokens.id', 'hardware_tokens.serial', 'hardware_tokens.kind', 'hardware_tokens.algorithm',
        'hardware_tokens.digits', 'hardware_tokens.period', 'hardware_tokens.counter', 'hardware_tokens.manufacturer',
        'hardware_tokens.model', 'hardware_tokens.token_id', 'hardware_tokens.created_at', 'users.username as assigned_to',
      ])
      .orderBy('hardware_tokens.serial');
    if (filter.assigned !== undefined) {
      q = q.where('hardware_tokens.token_id', filter.assigned ? 'is not' : 'is', null);
    }
    if (filter.search) q = q.where(containsText('hardware_tokens.serial', filter.search));
    if (filter.limit !== undefined) q = q.limit(filter.limit);
    return db.all(q);
  }
}
