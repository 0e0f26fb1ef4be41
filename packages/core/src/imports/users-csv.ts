/**
 * Users CSV: username, display name, email, groups (separated by ";"), token secret (base32 or hex, optional).
 * Only "username" is required; columns are found by their header. A new user is created (without a local
 * password); an existing one gets the non-empty cells of the row (an empty cell leaves the field as it is) and a
 * token for a secret it does not have yet.
 */
import {
  InvalidInputError,
  groupRecordSchema,
  problemsFromZod,
  userRecordSchema,
  type GroupRecord,
  type TokenRecord,
  type UserRecord,
  errorMessage,
} from '@otpgate/shared';
import { parseSecret, toBase32 } from '../otp/secret.js';
import type { Change } from '../store/store.js';
import type { IdSequence } from '../services/context.js';
import { columnKey, parseCsv } from './csv.js';
import type { ImportLookup } from './lookup.js';
import type { PlannedRow } from './types.js';

export const USERS_CSV_COLUMNS = ['username', 'display name', 'email', 'groups', 'token secret'] as const;
type Column = (typeof USERS_CSV_COLUMNS)[number];

export interface UsersCsvOptions {
  /** Create groups the file names that do not exist yet (otherwise such rows are errors). */
  createGroups?: boolean;
}

export interface UsersCsvRow {
  line: number;
  username: string;
  /** undefined: the column is not in the file. */
  display_name?: string;
  email?: string;
  groups?: string[];
  secret?: string;
  problem?: string;
}

export function parseUsersCsv(text: string): { rows: UsersCsvRow[]; notes: string[] } {
  const records = parseCsv(text, 'users CSV');
  const header = records.shift();
  if (!header) throw new InvalidInputError(`the file is empty; expected a header such as "${USERS_CSV_COLUMNS.join(',')}"`, 'users CSV');
  const keys = header.cells.map(columnKey);
  if (!keys.includes('username')) {
    throw new InvalidInputError(`line ${header.line}: the header has no "username" column (columns: ${USERS_CSV_COLUMNS.join(', ')})`, 'users CSV');
  }
  const notes = keys.filter((k) => !(USERS_CSV_COLUMNS as readonly string[]).includes(k)).map((k) => `column "${k}" ignored`);
  const at = (c: Column) => keys.indexOf(c);
  const rows = records.map(({ line, cells }): UsersCsvRow => {
    const cell = (c: Column) => (at(c) < 0 ? undefined : (cells[at(c)] ?? '').trim());
    const groups = cell('groups');
    return {
      line,
      username: cell('username') ?? '',
      display_name: cell('display name'),
      email: cell('email'),
      groups: groups === undefined ? undefined : groups.split(';').map((g) => g.trim()).filter(Boolean),
      secret: cell('token secret'),
      problem: cells.length === keys.length ? undefined : `${cells.length} cells; the header has ${keys.length}`,
    };
  });
  return { rows, notes };
}

export interface UsersPlan {
  rows: PlannedRow[];
  /** Changes that must come before the rows' own (groups the file creates). */
  prelude: (ids: IdSequence) => Change[];
}

export function planUsersRows(rows: readonly UsersCsvRow[], lookup: ImportLookup, options: UsersCsvOptions): UsersPlan {
  const otp = lookup.settings.otp;
  const linesByName = new Map<string, number[]>();
  for (const r of rows) {
    const k = r.username.toLowerCase();
    if (k) linesByName.set(k, [...(linesByName.get(k) ?? []), r.line]);
  }
  const newGroups = new Map<string, string>();
  const now = Date.now();

  const planned = rows.map((r): PlannedRow => {
    const summary = r.username || '?';
    const error = (reason: string): PlannedRow => ({ line: r.line, verdict: 'error', reason, summary });
    if (r.problem) return error(r.problem);
    if (!r.username) return error('the username is empty');
    const lines = linesByName.get(r.username.toLowerCase())!;
    if (lines.length > 1) return error(`user "${r.username}" is on lines ${lines.join(', ')} of the file`);
    if (r.email && !/^[^\s@]+@[^\s@]+$/.test(r.email)) return error(`"${r.email}" is not an e-mail address`);

    const groups: string[] = [];
    const creates: string[] = [];
    for (const g of r.groups ?? []) {
      const known = lookup.groups.get(g.toLowerCase()) ?? newGroups.get(g.toLowerCase());
      if (known) groups.push(known);
      else if (!options.createGroups) return error(`group "${g}" does not exist (create it first, or import with groups created)`);
      else {
        const check = groupRecordSchema.shape.name.safeParse(g);
        if (!check.success) return error(`group "${g}": ${check.error.issues[0]?.message ?? 'not a valid name'}`);
        creates.push(g);
        groups.push(g);
      }
    }

    let secret: string | undefined;
    if (r.secret) {
      try {
        secret = toBase32(parseSecret(r.secret, otp.min_secret_bits, 'token secret'));
      } catch (err) {
        return error(errorMessage(err));
      }
    }
    const tokenFor = (userId: number, id: number): TokenRecord => ({
      id, user_id: userId, kind: 'totp', algorithm: otp.algorithm, digits: otp.digits, period: otp.period, t0: 0,
      secret: secret!, counter: 0, window_past: null, window_future: null, serial: null, label: 'imported', active: true, created_at: now,
    });
    const withGroups = creates.length > 0 ? ` (creates group ${creates.join(', ')})` : '';

    const existing = lookup.user(r.username);
    if (existing) {
      const current = lookup.store.read('user', String(existing.id))!;
      const next: UserRecord = {
        ...current,
        display_name: r.display_name || current.display_name,
        email: r.email || current.email,
        groups: r.groups && r.groups.length > 0 ? [...new Set(groups)].sort() : current.groups,
      };
      const changed = (['display_name', 'email'] as const).filter((f) => next[f] !== current[f]).map((f) => f.replace('_', ' '));
      if (next.groups.join('\n').toLowerCase() !== [...current.groups].sort().join('\n').toLowerCase()) changed.push('groups');
      const addToken = secret !== undefined && !lookup.tokenSecrets(existing.id).has(secret);
      const invalid = userRecordSchema.safeParse(next);
      if (!invalid.success) return error(problemsFromZod(invalid.error).map((p) => `${p.path}: ${p.message}`).join('; '));
      if (changed.length === 0 && !addToken) return { line: r.line, verdict: 'unchanged', summary };
      for (const g of creates) newGroups.set(g.toLowerCase(), g);
      const what = [...changed, ...(addToken ? ['a new token'] : [])].join(', ');
      return {
        line: r.line,
        verdict: 'update',
        summary: `${summary}: ${what}${withGroups}`,
        write: (ids) => [
          ...(changed.length > 0 ? [{ entity: 'user' as const, op: 'upsert' as const, data: { ...next, updated_at: now } }] : []),
          ...(addToken ? [{ entity: 'token' as const, op: 'upsert' as const, data: tokenFor(current.id, ids.take('tokens')) }] : []),
        ],
      };
    }

    const record: Omit<UserRecord, 'id'> = {
      username: r.username,
      display_name: r.display_name ?? '',
      email: r.email ?? '',
      status: 'active',
      password_hash: null,
      auth_mode: null,
      groups: [...new Set(groups)],
      attributes: [],
      initial_login_until: null,
      created_at: now,
      updated_at: now,
    };
    const invalid = userRecordSchema.safeParse({ id: 1, ...record });
    if (!invalid.success) return error(problemsFromZod(invalid.error).map((p) => (p.path === 'username' ? `user name "${r.username}": ${p.message}` : `${p.path}: ${p.message}`)).join('; '));
    for (const g of creates) newGroups.set(g.toLowerCase(), g);
    return {
      line: r.line,
      verdict: 'new',
      summary: `${summary}${secret ? ' with a token' : ''}${withGroups}`,
      write: (ids) => {
        const user: UserRecord = { id: ids.take('users'), ...record };
        return [
          { entity: 'user', op: 'upsert', data: user },
          ...(secret ? [{ entity: 'token' as const, op: 'upsert' as const, data: tokenFor(user.id, ids.take('tokens')) }] : []),
        ];
      },
    };
  });

  return {
    rows: planned,
    prelude: (ids) =>
      [...newGroups.values()].map((name): Change => {
        const group: GroupRecord = { id: ids.take('groups'), name, description: 'created by a users CSV import', attributes: [] };
        return { entity: 'group', op: 'upsert', data: group };
      }),
  };
}
