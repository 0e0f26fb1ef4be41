/**
 * The master's change log with a replica following: its size after ACCEPTS accepted codes without compaction (as
 * before) and with it (the background job as the master runs it, here every COMPACT_EVERY accepts), and how the
 * replica's acknowledged position moves. Not a speed bench: it prints counts and sizes, not rates.
 *
 * Each accept goes the way a master's RADIUS accept goes: the step is written to token_state (USE_STEP_SQL, marked
 * unreported), and the node publishes the unreported steps into the change log every 200 ms (publishSteps); here
 * every PUBLISH_EVERY accepts, which is 200 ms at 100 accepts/s. The replica polls /v1/changes after each
 * publication: its acked_seq becomes its `after`, its head before the entries it is about to get.
 *
 * Usage: node bench/results/build/log-compaction.js [ACCEPTS=100000] [TOKENS=1000] [COMPACT_EVERY=30000]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  COMPACTION_KEEP_TAIL,
  COMPACTION_MIN_ENTRIES,
  Store,
  USE_STEP_SQL,
  compactChangeLog,
  compactionFloor,
  createLogger,
  createServices,
  loadDictionary,
  logBase,
  publishSteps,
  type Actor,
} from '@otpgate/core';

const [acceptsArg = '100000', tokensArg = '1000', compactArg = '30000'] = process.argv.slice(2);
const ACCEPTS = Number(acceptsArg);
const TOKENS = Number(tokensArg);
const COMPACT_EVERY = Number(compactArg);
const PUBLISH_EVERY = 20;
const actor: Actor = { name: 'bench', source: 'bench/log-compaction' };

interface LogSize {
  entries: number;
  bytes: number;
  base: number;
  head: number;
}

function logSize(store: Store): LogSize {
  const db = store.db.sqlite;
  const entries = (db.prepare('select count(*) as n from changes').get() as { n: number }).n;
  // the table and its index, in pages actually used (the file keeps freed pages for new rows)
  const bytes = (db.prepare("select coalesce(sum(pgsize), 0) as b from dbstat where name in ('changes', 'changes_entity_seq')").get() as { b: number }).b;
  return { entries, bytes, base: logBase(store.db).seq, head: store.head().seq };
}

async function run(compact: boolean): Promise<{ end: LogSize; peak: number; acked: number[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'otpgate-bench-log-'));
  const store = await Store.create(join(dir, 'data'));
  try {
    const services = createServices({ store, dictionary: loadDictionary([]), logger: createLogger('warn', 'bench', process.stderr) });
    const ids: number[] = [];
    for (let i = 0; i < TOKENS; i++) {
      await services.users.add({ username: `user${i}`, password: null, auth_mode: 'code-only' }, actor);
      ids.push(services.tokens.add(`user${i}`, {}, actor).token.id);
    }
    // an enrolled replica that has polled: from now on accepted codes go into the log
    store.db.run(
      store.db.q.insertInto('replicas').values({
        name: 'r1', fingerprint: 'bench', created_at: Date.now(), expires_at: Date.now() + 86_400_000, revoked_at: null,
        last_seen_at: Date.now(), last_address: '127.0.0.1', acked_seq: store.head().seq,
      }),
    );
    store.publishSteps = true;
    const use = store.state.prepare(USE_STEP_SQL);
    const poll = store.db.prepare("update replicas set acked_seq = ?, last_seen_at = ? where name = 'r1'");
    const baseStep = Math.floor(Date.now() / 30_000);
    let peak = 0;
    const acked: number[] = [];
    for (let i = 0; i < ACCEPTS; i++) {
      // a different token each time, each one's step moving forward as codes are used
      use.run(ids[i % TOKENS], baseStep + Math.floor(i / TOKENS), 0, Date.now(), 0, null);
      if ((i + 1) % PUBLISH_EVERY === 0) {
        const replicaHead = store.head().seq;
        publishSteps(store);
        // the replica's long poll returns with the new entries; its next request acknowledges where it was
        poll.run(replicaHead, Date.now());
        if (acked.length < 5 || (i + 1) % 25_000 === 0) acked.push(replicaHead);
      }
      if (compact && (i + 1) % COMPACT_EVERY === 0) {
        peak = Math.max(peak, logSize(store).entries);
        const upTo = compactionFloor(store, 7);
        if (upTo - logBase(store.db).seq >= COMPACTION_MIN_ENTRIES) await compactChangeLog(store.db, upTo);
      }
    }
    const end = logSize(store);
    return { end, peak: Math.max(peak, end.entries), acked };
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const kb = (b: number) => `${(b / 1024).toFixed(0)} KiB`;
console.log(`command: node bench/results/build/log-compaction.js ${ACCEPTS} ${TOKENS} ${COMPACT_EVERY}`);
console.log(`${ACCEPTS} accepted codes over ${TOKENS} tokens, published every ${PUBLISH_EVERY}, one replica following`);
const before = await run(false);
console.log(
  `without compaction: ${before.end.entries} log entries (changes ${before.end.base + 1}..${before.end.head}), ${kb(before.end.bytes)} in the changes table and its index`,
);
const after = await run(true);
console.log(
  `with compaction every ${COMPACT_EVERY} accepts: ${after.end.entries} log entries (changes ${after.end.base + 1}..${after.end.head}), ` +
    `${kb(after.end.bytes)}; at most ${after.peak} entries before a run (bound: ${COMPACTION_KEEP_TAIL} kept + what the job finds, ` +
    `run only from ${COMPACTION_MIN_ENTRIES} on)`,
);
console.log(`replica acked_seq (its \`after\` at each poll), first polls then every 25,000 accepts: ${after.acked.join(', ')}`);
