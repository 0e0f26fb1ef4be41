import { SNAPSHOT_ENTITIES, type Snapshot } from '@otpgate/shared';
import type { Store } from '@otpgate/core';

/** Everything a replica needs, read in one read transaction so it matches `head` exactly. */
export function buildSnapshot(store: Store, clusterId: string): Snapshot {
  return store.db.sqlite
    .transaction(() => {
      const records: Snapshot['records'] = {};
      for (const entity of SNAPSHOT_ENTITIES) records[entity] = store.readAll(entity);
      return { kind: 'snapshot' as const, cluster_id: clusterId, issued_at: Date.now(), head: store.head(), records };
    })
    .deferred();
}
