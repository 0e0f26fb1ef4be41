/**
 * The master's one-time VPN credentials in its state database: issued by the portal (or an admin), used by RADIUS on
 * the master itself or, through POST /v1/vpn-credentials/use, on a replica. Using one is a conditional write: the
 * checks (user, client, expiry, not used, account not locked) are read in the same transaction that marks it used,
 * so exactly one request in the cluster gets it.
 */
import type { VpnCredentialAnswer, VpnCredentialUse } from '@otpgate/shared';
import type { StateDatabase } from '../store/store.js';

/** Unused, unexpired credentials one user may hold: issuing another drops the oldest beyond these. */
export const MAX_LIVE_CREDENTIALS_PER_USER = 10;
/** Kept past their expiry, so a late attempt is told "expired" or "used" rather than taken for a plain password. */
export const KEEP_AFTER_EXPIRY_MS = 24 * 3600_000;

export interface NewVpnCredential {
  hash: string;
  userId: number;
  client: string | null;
  issuedBy: string;
  expiresAt: number;
}

export interface VpnCredentialAttempt {
  hash: string;
  userId: number;
  client: string;
  /** Names the request (and the node it reached): its retransmission is answered the same. */
  requestKey: string;
}

interface CredentialRow {
  user_id: number;
  client: string | null;
  issued_by: string;
  expires_at: number;
  used_at: number | null;
  used_by: string | null;
}

export class VpnCredentialTable {
  private readonly insertStmt;
  private readonly trimStmt;
  private readonly findStmt;
  private readonly lockStmt;
  private readonly markStmt;

  constructor(private readonly state: StateDatabase) {
    this.insertStmt = state.prepare('insert into vpn_credentials (hash, user_id, client, issued_by, issued_at, expires_at) values (?, ?, ?, ?, ?, ?)');
    this.trimStmt = state.prepare(
      `delete from vpn_credentials where hash in (select hash from vpn_credentials
         where user_id = ? and used_at is null and expires_at > ? order by issued_at desc limit -1 offset ?)`,
    );
    this.findStmt = state.prepare('select user_id, client, issued_by, expires_at, used_at, used_by from vpn_credentials where hash = ?');
    this.lockStmt = state.prepare('select locked_until from auth_state where user_id = ?').pluck();
    this.markStmt = state.prepare('update vpn_credentials set used_at = ?, used_by = ? where hash = ? and used_at is null');
  }

  /** Store a new credential (its hash), dropping the user's oldest live ones beyond the limit. */
  issue(credential: NewVpnCredential, now = Date.now()): void {
    const c = credential;
    this.state.transaction(() => {
      this.insertStmt.run(c.hash, c.userId, c.client, c.issuedBy, now, c.expiresAt);
      this.trimStmt.run(c.userId, now, MAX_LIVE_CREDENTIALS_PER_USER);
    });
  }

  /** Use the credential if this attempt may: call inside a transaction on the state database. */
  use(attempt: VpnCredentialAttempt, now = Date.now()): VpnCredentialAnswer {
    const row = this.findStmt.get(attempt.hash) as CredentialRow | undefined;
    const use = refusal(row, attempt, now) ?? this.lockOrMark(attempt, now);
    return row && (use === 'used' || use === 'repeat') ? { use, issued_by: row.issued_by } : { use };
  }

  private lockOrMark(attempt: VpnCredentialAttempt, now: number): VpnCredentialUse {
    const lockedUntil = (this.lockStmt.get(attempt.userId) as number | null | undefined) ?? null;
    if (lockedUntil !== null && lockedUntil > now) return 'locked';
    return this.markStmt.run(now, attempt.requestKey, attempt.hash).changes === 1 ? 'used' : 'spent';
  }

  /** Whether the credential is `userId`'s, unused and unexpired (the portal hands out its downloads only then). */
  live(hash: string, userId: number, now = Date.now()): boolean {
    const row = this.findStmt.get(hash) as CredentialRow | undefined;
    return row !== undefined && row.user_id === userId && row.used_at === null && row.expires_at > now;
  }

  /** Rows a day past their expiry, deleted up to `limit` at a time; returns how many. */
  prune(now: number, limit: number): number {
    return this.state
      .prepare('delete from vpn_credentials where hash in (select hash from vpn_credentials where expires_at <= ? limit ?)')
      .run(now - KEEP_AFTER_EXPIRY_MS, limit).changes;
  }
}

function refusal(row: CredentialRow | undefined, attempt: VpnCredentialAttempt, now: number): VpnCredentialUse | undefined {
  if (!row) return 'unknown';
  if (row.user_id !== attempt.userId) return 'other-user';
  if (row.used_at !== null) return row.used_by === attempt.requestKey ? 'repeat' : 'spent';
  if (row.expires_at <= now) return 'expired';
  if (row.client !== null && row.client !== attempt.client) return 'other-client';
  return undefined;
}
