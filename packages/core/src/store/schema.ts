/**
 * The configuration database (otpgate.db): what admins change and the master replicates, with the change log. Table
 * shapes as SQLite holds them (booleans as 0/1, JSON as text, secrets sealed). What RADIUS writes per request lives
 * in the state database (state-schema.ts).
 */
import type { Generated } from 'kysely';

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

export interface NodeMetaTable {
  key: string;
  value: string;
}

/** WebAuthn credentials (passkeys, security keys): public keys only (shared/src/passkey.ts). */
export interface PasskeysTable {
  /** Credential id, base64url. */
  id: string;
  user_id: number;
  public_key: string;
  counter: number;
  /** JSON array of transports. */
  transports: string;
  passwordless: 0 | 1;
  label: string;
  created_at: number;
  last_used_at: number | null;
}

/** Master only: the identity at a provider that signs in as a user (core/src/oidc/identity-service.ts). */
export interface OidcIdentitiesTable {
  provider: string;
  /** "tid/oid" for Entra ID (both claims present), else "sub:" and the subject. */
  subject: string;
  user_id: number;
  created_at: number;
  last_used_at: number;
}

/** Master only: a RADIUS client's VPN profile for the portal's downloads (shared/src/vpn-profile.ts); not replicated. */
export interface VpnProfilesTable {
  client_id: number;
  display_name: string;
  type: string;
  server: string;
  remote_id: string;
  shared_secret_sealed: string | null;
  updated_at: number;
}

export interface DB {
  users: UsersTable;
  groups: GroupsTable;
  user_groups: UserGroupsTable;
  tokens: TokensTable;
  hardware_tokens: HardwareTokensTable;
  clients: ClientsTable;
  settings: SettingsTable;
  changes: ChangesTable;
  node_meta: NodeMetaTable;
  admins: AdminsTable;
  replicas: ReplicasTable;
  admin_audit: AdminAuditTable;
  passkeys: PasskeysTable;
  oidc_identities: OidcIdentitiesTable;
  vpn_profiles: VpnProfilesTable;
}
