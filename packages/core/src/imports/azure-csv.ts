/**
 * Microsoft Entra's "OATH tokens" CSV (the file admins upload so users keep the hardware token they use for
 * Microsoft 365): upn, serial number, secret key (base32), time interval (30 or 60), manufacturer, model.
 * Each row becomes an inventory entry assigned to the matching otpgate user.
 */
import { InvalidInputError, type HardwareTokenRecord, type TokenRecord } from '@otpgate/shared';
import { resolveName } from '../auth/realms.js';
import { toBase32 } from '../otp/secret.js';
import type { Change } from '../store/store.js';
import { columnKey, parseCsv } from './csv.js';
import type { ImportLookup, UserRef } from './lookup.js';
import { checkBase32Secret } from './secret-check.js';
import type { PlannedRow } from './types.js';

export const AZURE_COLUMNS = ['upn', 'serial number', 'secret key', 'time interval', 'manufacturer', 'model'] as const;

export interface AzureCsvOptions {
  /** Strip the domain of any UPN whose full name is not a user ("alice@example.com" -> "alice"). */
  stripDomain?: boolean;
  /** Strip only these domains (besides realms configured with strip, which always apply). */
  domains?: string[];
  /** A row whose user does not exist: an error (default), or an inventory entry nobody holds yet. */
  unknownUser?: 'error' | 'inventory';
}

export interface AzureRow {
  line: number;
  upn: string;
  serial: string;
  secret: string;
  interval: string;
  manufacturer: string;
  model: string;
  /** Set when the line itself is malformed. */
  problem?: string;
}

export function parseAzureCsv(text: string): AzureRow[] {
  const records = parseCsv(text, 'Azure OATH CSV');
  const header = records.shift();
  if (!header) throw new InvalidInputError('the file is empty; expected the header "upn,serial number,secret key,time interval,manufacturer,model"', 'Azure OATH CSV');
  const keys = header.cells.map(columnKey);
  const missing = AZURE_COLUMNS.filter((c) => !keys.includes(c));
  if (missing.length > 0) {
    throw new InvalidInputError(
      `line ${header.line}: the header must name the columns ${AZURE_COLUMNS.join(', ')} (Entra's OATH token format); missing: ${missing.join(', ')}`,
      'Azure OATH CSV',
    );
  }
  const at = Object.fromEntries(AZURE_COLUMNS.map((c) => [c, keys.indexOf(c)])) as Record<(typeof AZURE_COLUMNS)[number], number>;
  return records.map(({ line, cells }) => {
    const cell = (c: (typeof AZURE_COLUMNS)[number]) => (cells[at[c]] ?? '').trim();
    return {
      line,
      upn: cell('upn'),
      serial: cell('serial number'),
      secret: cells[at['secret key']] ?? '',
      interval: cell('time interval'),
      manufacturer: cell('manufacturer'),
      model: cell('model'),
      problem: cells.length === keys.length ? undefined : `${cells.length} cells; the header has ${keys.length}`,
    };
  });
}

/** The otpgate user a UPN names: the UPN itself, a configured realm's stripped name, or (when told) the local part. */
export function userForUpn(upn: string, lookup: ImportLookup, options: AzureCsvOptions): { user?: UserRef; tried: string[] } {
  const tried = [upn];
  const exact = lookup.user(upn);
  if (exact) return { user: exact, tried };
  const at = upn.lastIndexOf('@');
  if (at <= 0) return { tried };
  const viaRealm = resolveName(upn, lookup.settings.auth.realms).username;
  const domain = upn.slice(at + 1).toLowerCase();
  const listed = (options.domains ?? []).some((d) => d.trim().toLowerCase() === domain);
  const candidate = viaRealm !== upn ? viaRealm : options.stripDomain || listed ? upn.slice(0, at) : undefined;
  if (candidate === undefined) return { tried };
  tried.push(candidate);
  return { user: lookup.user(candidate), tried };
}

export function planAzureRows(rows: readonly AzureRow[], lookup: ImportLookup, options: AzureCsvOptions): PlannedRow[] {
  const minBits = lookup.settings.otp.min_secret_bits;
  const linesBySerial = new Map<string, number[]>();
  for (const r of rows) if (r.serial) linesBySerial.set(r.serial, [...(linesBySerial.get(r.serial) ?? []), r.line]);
  const now = Date.now();

  return rows.map((r): PlannedRow => {
    const summary = `serial ${r.serial || '?'}${r.upn ? ` -> ${r.upn}` : ''}`;
    const error = (reason: string): PlannedRow => ({ line: r.line, verdict: 'error', reason, summary });
    if (r.problem) return error(r.problem);
    if (!r.serial) return error('the serial number is empty');
    if (r.serial.length > 64) return error('the serial number is longer than 64 characters');
    const lines = linesBySerial.get(r.serial)!;
    if (lines.length > 1) return error(`duplicate serial: serial ${r.serial} is on lines ${lines.join(', ')} of the file`);
    const secret = checkBase32Secret(r.secret, minBits);
    if (!secret.ok) return error(secret.reason);
    const period = r.interval === '' ? 30 : Number(r.interval);
    if (period !== 30 && period !== 60) return error(`the time interval must be 30 or 60 seconds, not "${r.interval}"`);

    const { user, tried } = r.upn ? userForUpn(r.upn, lookup, options) : { user: undefined, tried: [] };
    if (r.upn && !user && options.unknownUser !== 'inventory') {
      return error(`unknown user: no user ${tried.map((t) => `"${t}"`).join(' or ')}; add the user first, or import with unknown users into the inventory only`);
    }
    const hw = {
      serial: r.serial,
      kind: 'totp' as const,
      algorithm: 'SHA1' as const,
      digits: 6 as const,
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion -- the record built here is typed by this field
      period: period as 30 | 60,
      secret: toBase32(secret.key),
      counter: 0,
      manufacturer: r.manufacturer.slice(0, 100),
      model: r.model.slice(0, 100),
    };
    const label = [hw.manufacturer, hw.model].filter(Boolean).join(' ').slice(0, 100) || 'hardware token';
    const tokenFor = (u: UserRef, id: number): TokenRecord => ({
      id, user_id: u.id, kind: hw.kind, algorithm: hw.algorithm, digits: hw.digits, period: hw.period, t0: 0,
      secret: hw.secret, counter: 0, window_past: null, window_future: null, serial: hw.serial, label, active: true, created_at: now,
    });
    const rowSummary = `${summary}${user ? ` (user ${user.username})` : ''}, totp ${period} s`;

    const existing = lookup.serials.get(r.serial);
    if (existing) {
      const stored = lookup.hardware(existing.id)!;
      const holder = existing.token_id === null ? undefined : lookup.token(existing.token_id);
      if (stored.secret !== hw.secret) return error(`duplicate serial: ${r.serial} is already in the inventory with another secret`);
      if (holder) {
        if (user && holder.user_id === user.id) return { line: r.line, verdict: 'unchanged', summary: rowSummary, reason: 'already assigned to this user' };
        return error(`duplicate serial: ${r.serial} is already in the inventory, assigned to ${lookup.usernameOf(holder.user_id) ?? 'another user'}`);
      }
      if (!user) return { line: r.line, verdict: 'unchanged', summary: rowSummary, reason: 'already in the inventory' };
      return {
        line: r.line,
        verdict: 'update',
        reason: 'in the inventory already: assign it',
        summary: rowSummary,
        write: (ids) => {
          const token = tokenFor(user, ids.take('tokens'));
          return [
            { entity: 'token', op: 'upsert', data: token },
            { entity: 'hardware_token', op: 'upsert', data: { ...stored, token_id: token.id } },
          ];
        },
      };
    }
    return {
      line: r.line,
      verdict: 'new',
      summary: user ? rowSummary : `${rowSummary}, inventory only${r.upn ? ' (no such user)' : ''}`,
      write: (ids) => {
        const changes: Change[] = [];
        let tokenId: number | null = null;
        if (user) {
          const token = tokenFor(user, ids.take('tokens'));
          tokenId = token.id;
          changes.push({ entity: 'token', op: 'upsert', data: token });
        }
        const record: HardwareTokenRecord = { id: ids.take('hardware_tokens'), ...hw, token_id: tokenId, created_at: now };
        changes.push({ entity: 'hardware_token', op: 'upsert', data: record });
        return changes;
      },
    };
  });
}
