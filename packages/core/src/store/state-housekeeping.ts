/**
 * The state database's other rows that would otherwise only grow: challenges past their expiry, failure counters of
 * users who stopped failing long ago (and have nothing left to report), replay steps of tokens that no longer
 * exist, one-time VPN credentials a day past their expiry, pushes a week old, and the dashboard's request counts older than a day
 * (auth-buckets.ts). Deleted in chunks with a turn of the event loop between, like the auth log's retention.
 */
import type { Store } from './store.js';
import { pruneAuthBuckets } from './auth-buckets.js';
import { VpnCredentialTable } from '../vpn/credential-table.js';
import { PushTable } from '../push/push-table.js';

const CHUNK = 5000;
/** A counter with no lock and nothing to report is dropped after this long without a failure. */
const IDLE_COUNTER_MS = 24 * 3600_000;

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

export interface HousekeepingResult {
  challenges: number;
  counters: number;
  orphanSteps: number;
  buckets: number;
  vpnCredentials: number;
  pushes: number;
}

export async function pruneState(store: Store, now = Date.now(), stopped: () => boolean = () => false): Promise<HousekeepingResult> {
  const state = store.state;
  const result: HousekeepingResult = { challenges: 0, counters: 0, orphanSteps: 0, buckets: 0, vpnCredentials: 0, pushes: 0 };
  const expired = state.prepare('delete from challenges where state in (select state from challenges where expires_at <= ? limit ?)');
  for (let n = CHUNK; n === CHUNK && !stopped(); await nextTurn()) result.challenges += n = expired.run(now, CHUNK).changes;
  const credentials = new VpnCredentialTable(state);
  for (let n = CHUNK; n === CHUNK && !stopped(); await nextTurn()) result.vpnCredentials += n = credentials.prune(now, CHUNK);
  const pushes = new PushTable(state);
  for (let n = CHUNK; n === CHUNK && !stopped(); await nextTurn()) result.pushes += n = pushes.prune(now, CHUNK);
  const idle = state.prepare(
    `delete from auth_state where user_id in (select user_id from auth_state
       where (locked_until is null or locked_until <= ?) and unreported_failures = 0 and unreported_success = 0 and updated_at < ? limit ?)`,
  );
  for (let n = CHUNK; n === CHUNK && !stopped(); await nextTurn()) result.counters += n = idle.run(now, now - IDLE_COUNTER_MS, CHUNK).changes;
  // steps of tokens gone from the configuration database: compared a chunk of ids at a time across the two files
  const page = state.prepare('select token_id from token_state where token_id > ? order by token_id limit ?').pluck();
  const existing = store.db.prepare('select id from tokens where id in (select value from json_each(?))').pluck();
  const remove = state.prepare('delete from token_state where token_id in (select value from json_each(?)) and reported = 1');
  for (let after = -1; !stopped(); await nextTurn()) {
    const ids = page.all(after, CHUNK) as number[];
    if (ids.length === 0) break;
    const alive = new Set(existing.all(JSON.stringify(ids)) as number[]);
    const gone = ids.filter((id) => !alive.has(id));
    if (gone.length > 0) result.orphanSteps += remove.run(JSON.stringify(gone)).changes;
    after = ids[ids.length - 1]!;
  }
  // a few thousand rows a day per node: one statement
  if (!stopped()) result.buckets = pruneAuthBuckets(store, now);
  return result;
}
