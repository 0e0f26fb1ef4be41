import { X509Certificate } from 'node:crypto';
import { ClusterFiles, ReplicaRegistry, changeTime, type Store } from '@otpgate/core';

export type ReplicaHealth = 'ok' | 'lagging' | 'unreachable' | 'never-connected' | 'revoked';

export interface ReplicaStatusRow {
  name: string;
  health: ReplicaHealth;
  acked_seq: number;
  lag_entries: number;
  lag_seconds: number;
  last_contact_at: number | null;
  address: string | null;
  certificate_expires_at: number;
}

export interface MasterStatus {
  role: 'master';
  head_seq: number;
  master_url: string | null;
  server_certificate_expires_at: number | null;
  replicas: ReplicaStatusRow[];
}

/** A replica that has not polled for this long is unreachable (a long poll returns at least every minute). */
export const CONTACT_TIMEOUT_MS = 90_000;
export const LAG_WARNING_SECONDS = 30;

/** The master's view of its cluster, for `otpgate cluster status`, metrics and the admin UI. */
export function masterStatus(store: Store, now = Date.now()): MasterStatus {
  const head = store.head().seq;
  const files = new ClusterFiles(store.dataDir);
  const serverExpiry = files.has('serverCert') ? Date.parse(new X509Certificate(files.read('serverCert')).validTo) : null;
  const replicas = new ReplicaRegistry(store).list().map((r): ReplicaStatusRow => {
    const lagEntries = Math.max(0, head - r.acked_seq);
    const oldest = lagEntries > 0 ? changeTime(store, r.acked_seq + 1) : undefined;
    const lagSeconds = oldest === undefined ? 0 : Math.max(0, (now - oldest) / 1000);
    let health: ReplicaHealth = 'ok';
    if (r.revoked_at !== null) health = 'revoked';
    else if (r.last_seen_at === null) health = 'never-connected';
    else if (now - r.last_seen_at > CONTACT_TIMEOUT_MS) health = 'unreachable';
    else if (lagSeconds > LAG_WARNING_SECONDS) health = 'lagging';
    return {
      name: r.name,
      health,
      acked_seq: r.acked_seq,
      lag_entries: lagEntries,
      lag_seconds: Math.round(lagSeconds * 10) / 10,
      last_contact_at: r.last_seen_at,
      address: r.last_address,
      certificate_expires_at: r.expires_at,
    };
  });
  return { role: 'master', head_seq: head, master_url: store.getMeta('master_url') ?? null, server_certificate_expires_at: serverExpiry, replicas };
}
