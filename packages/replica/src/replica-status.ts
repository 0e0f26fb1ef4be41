import type { Store } from '@otpgate/core';
import type { ReplicaSelfStatus } from '@otpgate/shared';

/** A replica's view of itself (read from its store, so the CLI sees what the serving process recorded). */
export function replicaStatus(store: Store, now = Date.now()): ReplicaSelfStatus {
  const num = (key: string) => {
    const v = store.getMeta(key);
    return v === undefined ? null : Number(v);
  };
  const applied = store.head().seq;
  const masterHead = num('master_head_seq');
  const contact = num('last_contact_at');
  return {
    role: 'replica',
    name: store.getMeta('replica_name') ?? null,
    master_url: store.getMeta('master_url') ?? null,
    applied_seq: applied,
    master_head_seq: masterHead,
    lag_entries: masterHead === null ? null : Math.max(0, masterHead - applied),
    last_contact_at: contact,
    seconds_since_contact: contact === null ? null : Math.round((now - contact) / 100) / 10,
    last_error: store.getMeta('last_feed_error') ?? null,
  };
}
