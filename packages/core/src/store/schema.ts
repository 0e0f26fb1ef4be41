import type { Generated } from 'kysely';

/** Table shapes as SQLite holds them (booleans as 0/1, JSON as text, secrets sealed). */
export interface UsersTable {
  id: Generated<number>;
  username: string;
  display_name: string;
  email: string;
  status: 'active' | 'disabled';
  password_hash: string | null;
  auth_mode: 'inline' | 'code-only' | 'challenge' | null;
  attributes: string;
  initial_login_until: number | null;
  created_at: number;
  updated_at: number;
}

export interface GroupsTable {
  id: Generated<number>;
  name: string;
  description: string;
  attributes: string;
}

export interface UserGroupsTable {
  user_id: number;
  group_id: number;
}

export interface TokensTable {
  id: Generated<number>;
  user_id: number;
  kind: 'totp' | 'hotp';
  algorithm: 'SHA1' | 'SHA256' | 'SHA512';
  digits: 6 | 8;
  period: 30 | 60;
  t0: number;
  secret_sealed: string;
  counter: number;
  window_past: number | null;
  window_future: number | null;
  serial: string | null;
  label: string;
  active: 0 | 1;
  created_at: number;
}

export interface TokenStateTable {
  token_id: number;
  last_step: number;
  drift: number;
  updated_at: number;
  /** 0 while a replica's own accept has not been reported to the master. */
  reported: Generated<0 | 1>;
}

export interface AdminsTable {
  username: string;
  password_hash: string;
  created_at: number;
  updated_at: number;
}

/** The master's registry of enrolled replicas (not replicated). */
export interface ReplicasTable {
  name: string;
  /** SHA-256 fingerprint of the replica's client certificate, as Node prints it (AA:BB:...). */
  fingerprint: string;
  created_at: number;
  expires_at: number;
  revoked_at: number | null;
  last_seen_at: number | null;
  last_address: string | null;
  acked_seq: Generated<number>;
}

export interface HardwareTokensTable {
  id: Generated<number>;
  serial: string;
  kind: 'totp' | 'hotp';
  algorithm: 'SHA1' | 'SHA256' | 'SHA512';
  digits: 6 | 8;
  period: 30 | 60;
  secret_sealed: string;
  counter: number;
  manufacturer: string;
  model: string;
  token_id: number | null;
  created_at: number;
}

export interface ClientsTable {
  id: Generated<number>;
  name: string;
  address: string;
  secret_sealed: string;
  require_message_authenticator: 0 | 1;
  auth_mode: 'inline' | 'code-only' | 'challenge' | null;
  on_backend_error: 'reject' | 'drop';
  /** JSON array of backend names, or null. */
  backends: string | null;
  single_factor: 0 | 1;
  description: string;
}

export interface SettingsTable {
  id: number;
  document: string;
}

export interface AuthStateTable {
  user_id: number;
  failures: number;
  locked_until: number | null;
  updated_at: number;
}

export interface ChangesTable {
  seq: number;
  at: number;
  entity: string;
  op: 'upsert' | 'delete';
  key: string;
  /** The record with its secret fields sealed under this node's key; null for deletes. */
  payload: string | null;
  prev_hash: string;
  hash: string;
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

export interface AdminAuditTable {
  id: Generated<number>;
  at: number;
  actor: string;
  source: string;
  action: string;
  target: string;
  /** JSON of the record before and after, secrets removed; null when not applicable. */
  before: string | null;
  after: string | null;
  details: string | null;
}

export interface InitialLoginsTable {
  user_id: number;
  count: number;
}

export interface NodeMetaTable {
  key: string;
  value: string;
}

export interface DB {
  users: UsersTable;
  groups: GroupsTable;
  user_groups: UserGroupsTable;
  tokens: TokensTable;
  token_state: TokenStateTable;
  hardware_tokens: HardwareTokensTable;
  clients: ClientsTable;
  settings: SettingsTable;
  auth_state: AuthStateTable;
  changes: ChangesTable;
  auth_log: AuthLogTable;
  node_meta: NodeMetaTable;
  admins: AdminsTable;
  replicas: ReplicasTable;
  initial_logins: InitialLoginsTable;
  admin_audit: AdminAuditTable;
}
