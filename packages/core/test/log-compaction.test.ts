import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../src/logger.js';
import { changeHashAt, logBase, readChanges } from '../src/store/change-log.js';
import { COMPACTION_KEEP_TAIL, compactChangeLog, compactionFloor, scheduleLogCompaction } from '../src/store/log-compaction.js';
import type { Store } from '../src/store/store.js';
import { verifyChain } from '@otpgate/shared';
import { createFixture, type Fixture } from './store-fixture.js';

const DAY = 86_400_000;
const NOW = 1_900_000_000_000;

let f: Fixture;
beforeEach(async () => {
  f = await createFixture();
});
afterEach(() => f.close());

/** `n` entries as accepted codes make them once replicas follow (one token_state entry per code). */
function acceptCodes(store: Store, n: number): void {
  store.db.transaction(() => {
    for (let i = 0; i < n; i++) store.logChange({ entity: 'token_state', op: 'upsert', key: '1', data: { token_id: 1, last_step: i, drift: 0 } });
  });
}

const entries = (store: Store) => Number((store.db.prepare('select count(*) as n from changes').get() as { n: number }).n);

function enrol(store: Store, name: string, acked: number, seen: number | null, revoked: number | null = null): void {
  store.db.run(
    store.db.q.insertInto('replicas').values({ name, fingerprint: name, created_at: 0, expires_at: NOW + DAY, revoked_at: revoked, last_seen_at: seen, last_address: null, acked_seq: acked }),
  );
}

describe('compacting the change log', () => {
  it('deletes the entries up to a position a chunk at a time and moves the base with them; the chain goes on from the base', async () => {
    acceptCodes(f.store, 5000);
    const at2500 = changeHashAt(f.store.db, 2500)!;
    const head = f.store.head();
    expect(await compactChangeLog(f.store.db, 2500, { chunkRows: 1000 })).toBe(2500);
    expect(logBase(f.store.db)).toEqual({ seq: 2500, hash: at2500 });
    expect(changeHashAt(f.store.db, 2500)).toBe(at2500);
    expect(changeHashAt(f.store.db, 2499)).toBeUndefined();
    expect(f.store.head()).toEqual(head);
    acceptCodes(f.store, 1);
    const kept = readChanges(f.store.db, f.store.sealKey, 2500, 10_000);
    expect(kept[0]!.seq).toBe(2501);
    expect(verifyChain(kept, logBase(f.store.db))).toEqual(f.store.head());
  });

  it('never deletes the head entry, and stops between chunks when told', async () => {
    acceptCodes(f.store, 100);
    let chunks = 0;
    expect(await compactChangeLog(f.store.db, 100, { chunkRows: 10, stopped: () => ++chunks > 3 })).toBe(30);
    expect(await compactChangeLog(f.store.db, 1e9)).toBe(69);
    expect(entries(f.store)).toBe(1);
    expect(f.store.head().seq).toBe(100);
  });

  it('keeps what the replicas seen within the horizon have not acknowledged, and always the newest entries', () => {
    acceptCodes(f.store, 30_000);
    expect(compactionFloor(f.store, 7, NOW)).toBe(30_000 - COMPACTION_KEEP_TAIL);
    enrol(f.store, 'a', 5000, NOW - 60_000);
    enrol(f.store, 'b', 9000, NOW);
    enrol(f.store, 'removed', 10, NOW, NOW - DAY);
    enrol(f.store, 'away', 20, NOW - 8 * DAY);
    enrol(f.store, 'new', 0, null);
    expect(compactionFloor(f.store, 7, NOW)).toBe(5000);
    // a longer horizon waits for the replica away for 8 days
    expect(compactionFloor(f.store, 10, NOW)).toBe(20);
    f.store.db.run(f.store.db.q.updateTable('replicas').set({ acked_seq: 30_000 }).where('name', 'in', ['a', 'b']));
    expect(compactionFloor(f.store, 7, NOW)).toBe(30_000 - COMPACTION_KEEP_TAIL);
  });

  it('in the background: with a replica keeping up, 30,000 accepted codes leave the newest entries only; a small backlog is left alone', async () => {
    acceptCodes(f.store, 8000);
    enrol(f.store, 'r1', 8000, Date.now());
    const logger = createLogger('silent', 'test');
    const floor = () => compactionFloor(f.store, 7);
    let job = scheduleLogCompaction(f.store, logger, floor, { everyMs: 10 });
    await new Promise((r) => setTimeout(r, 100));
    await job.stop();
    expect(entries(f.store)).toBe(8000);

    acceptCodes(f.store, 22_000);
    f.store.db.run(f.store.db.q.updateTable('replicas').set({ acked_seq: 30_000 }));
    job = scheduleLogCompaction(f.store, logger, floor, { everyMs: 10 });
    await expect.poll(() => logBase(f.store.db).seq).toBe(30_000 - COMPACTION_KEEP_TAIL);
    await job.stop();
    expect(entries(f.store)).toBe(COMPACTION_KEEP_TAIL);
  });
});
