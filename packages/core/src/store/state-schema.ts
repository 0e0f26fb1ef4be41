/**
 * The state database (state.db): what a node writes while it answers RADIUS — used steps, failure counters, the
 * authentication log, pending challenges. It is a file of its own so that a long write to the configuration database
 * (a 100,000-user import, a snapshot applied on a replica) never holds the lock these writes need: SQLite locks a
 * whole file, and an accept must not wait seconds for its replay step.
 *
 * Rows refer to users and tokens of the configuration database by id. There are no foreign keys across files: ids
 * are never reused (see allocateId), so a row left behind by a deleted user or token matches nothing and is pruned.
 */
import type { Generated } from 'kysely';
import type { AuthResult } from '@otpgate/shared';

export interface TokenStateTable {
  token_id: number;
  last_step: number;
  drift: number;
  updated_at: number;
  /**
   * 1 once the master knows this step: on a replica, reported to the master; on a master, published in its change
   * log (when replicas follow it). 0 while it is only here.
   */
  reported: Generated<0 | 1>;
  /** The RADIUS request (source, Identifier, Request Authenticator) that used the step on this node, if one did. */
  request_key: string | null;
}

export interface AuthStateTable {
  user_id: number;
  failures: number;
  locked_until: number | null;
  updated_at: number;
  /** Failures counted here and not yet reported to the master (replicas: the cluster-wide lockout). */
  unreported_failures: Generated<number>;
  /** 1 when a success here has reset the count and the master has not been told yet. */
  unreported_success: Generated<0 | 1>;
  /** Master: 0 while a lock set here has not gone into the change log yet. */
  lock_published: Generated<0 | 1>;
}

export interface AuthLogTable {
  id: Generated<number>;
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
  detail: string | null;
  /** 'single-factor' or 'initial-login' when the password alone was accepted. */
  policy: string | null;
}

export interface InitialLoginsTable {
  user_id: number;
  count: number;
}

/** An Access-Challenge waiting for its answer: single use, bound to the user and the RADIUS client that got it. */
export interface ChallengesTable {
  /** The State attribute sent, in hex. */
  state: string;
  user_id: number;
  username: string;
  client: string;
  /** Where the password was checked, and the directory groups it reported (JSON array), for the final answer. */
  backend: string;
  groups: string;
  expires_at: number;
  /** Push mode with number matching: the number the Access-Challenge showed, which the approval page asks for. */
  push_number: string | null;
}

/** A single row (id 1), rewritten to find out whether the file takes writes again after they failed. */
export interface WriteProbeTable {
  id: number;
  at: number;
}

/** This node's auth log counted per 5 minutes (auth-buckets.ts). */
export interface AuthBucketsTable {
  /** The bucket's start, ms since the epoch, a multiple of AUTH_BUCKET_MS. */
  bucket: number;
  result: AuthResult;
  /** The reject reason, '' for none. */
  reason: string;
  count: number;
  /** Replica: 1 once the master has this count. */
  reported: Generated<0 | 1>;
}

/** A single row (id 1): the last auth_log id counted into auth_buckets. */
export interface AuthLogRollupTable {
  id: number;
  last_id: number;
}

/** Master: each replica's buckets as it last reported them, under the replica's registered name. */
export interface ReplicaAuthBucketsTable {
  bucket: number;
  replica: string;
  result: AuthResult;
  reason: string;
  count: number;
}

/**
 * Master: one-time VPN credentials (vpn/credential-table.ts). The password is never stored, only its hash; a row
 * stays a day past its expiry, so a late attempt is told "used" or "expired" rather than "unknown", then is pruned.
 */
export interface VpnCredentialsTable {
  /** SHA-256 of the password, hex (vpn-password.ts). */
  hash: string;
  user_id: number;
  /** The RADIUS client it is good for; null: any. */
  client: string | null;
  /** How the user proved who they are when it was issued ('passkey', 'oidc:PROVIDER', 'admin'): for the auth log. */
  issued_by: string;
  issued_at: number;
  expires_at: number;
  used_at: number | null;
  /** The request that used it (node and RADIUS request), so its retransmission gets the same answer. */
  used_by: string | null;
}

/**
 * Master: logins waiting for their user's approval (push/push-table.ts), made by RADIUS on the master or, through
 * POST /v1/pushes, on a replica; decided on the portal, or timed out. Kept a week for the record, then pruned.
 */
export interface PushesTable {
  /** Order of creation: the master's notifier sends each new push once, in this order. */
  seq: Generated<number>;
  /** 128 random bits, base64url: names the approval page. */
  id: string;
  /** RADIUS client + Request Authenticator + user id: a retransmission finds the push made for its first copy. */
  request_key: string;
  user_id: number;
  username: string;
  client: string;
  client_address: string;
  number: string | null;
  created_at: number;
  expires_at: number;
  /** pending, approved, denied, timeout, not-me (PushStatus). */
  status: string;
  decided_at: number | null;
}

export interface StateDB {
  token_state: TokenStateTable;
  auth_state: AuthStateTable;
  auth_log: AuthLogTable;
  initial_logins: InitialLoginsTable;
  challenges: ChallengesTable;
  write_probe: WriteProbeTable;
  auth_buckets: AuthBucketsTable;
  auth_log_rollup: AuthLogRollupTable;
  replica_auth_buckets: ReplicaAuthBucketsTable;
  vpn_credentials: VpnCredentialsTable;
  pushes: PushesTable;
}
