/**
 * An operator's requests to a replica's running feed client, which runs in another process (`otpgate serve`): kept in
 * the replica's node_meta, read by the feed client before each request to the master, and cleared once a snapshot
 * has been applied, so a permission to roll back serves exactly one snapshot.
 */
import { InvalidInputError } from '@otpgate/shared';
import type { Store } from '@otpgate/core';

const REQUESTED = 'resync_requested_at';
const ROLLBACK_ALLOWED = 'rollback_allowed_at';

/** The command that lets a replica take a snapshot older than its own state (named in the refusal). */
export const ALLOW_ROLLBACK_COMMAND = 'otpgate replica resync --allow-rollback';

/**
 * `otpgate replica resync`: take a fresh snapshot from the master. `allowRollback`: accept it even when it does not
 * continue this replica's history (a master restored from a backup): users deleted since come back.
 */
export function requestResync(store: Store, options: { allowRollback?: boolean } = {}): void {
  if (store.role !== 'replica') throw new InvalidInputError('this node is the master; "replica resync" is for a replica');
  const now = String(Date.now());
  store.updateMeta(options.allowRollback ? { [REQUESTED]: now, [ROLLBACK_ALLOWED]: now } : { [REQUESTED]: now });
}

export function resyncRequested(store: Store): boolean {
  return store.getMeta(REQUESTED) !== undefined;
}

export function rollbackAllowed(store: Store): boolean {
  return store.getMeta(ROLLBACK_ALLOWED) !== undefined;
}

/** Both requests served (Store.updateMeta): a snapshot was applied, or the node joined a cluster afresh. */
export const NO_RESYNC_REQUEST = { [REQUESTED]: undefined, [ROLLBACK_ALLOWED]: undefined };

/** A snapshot was applied: both requests are served. */
export function clearResyncRequest(store: Store): void {
  store.updateMeta(NO_RESYNC_REQUEST);
}
