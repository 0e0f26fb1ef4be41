import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../src/logger.js';
import type { Database } from '../src/store/database.js';
import { pruneTable, scheduleRetention } from '../src/store/retention.js';
import { createFixture, type Fixture } from './store-fixture.js';

const DAY = 86_400_000;
const NOW = Date.UTC(2025, 5, 1);

let f: Fixture;
let db: Database;
beforeEach(async () => {
  f = await createFixture();
  db = f.store.db;
});
afterEach(() => f.close());

/** `count` audit rows, the i-th at `at(i)` (ids in the same order). */
function addAuditRows(count: number, at: (i: number) => number): void {
  const insert = db.prepare(`insert into admin_audit (at, actor, source, action, target) values (?, 'admin', 'cli', 'user.add', ?)`);
  db.transaction(() => {
    for (let i = 0; i < count; i++) insert.run(at(i), `user${i}`);
  });
}

const targets = () => (db.prepare('select target from admin_audit order by id').all() as Array<{ target: string }>).map((r) => r.target);

describe('pruneTable', () => {
  it('deletes the rows older than the cutoff and keeps the rest', async () => {
    // user0..user9 are 100..91 days old, user10..user19 are 10..1 days old
    addAuditRows(20, (i) => NOW - (i < 10 ? 100 - i : 20 - i) * DAY);
    const result = await pruneTable(db, { table: 'admin_audit', timeColumn: 'at', cutoff: NOW - 30 * DAY, maxRows: 1000, chunkRows: 3 });
    expect(result).toEqual({ expired: 10, overCap: 0 });
    expect(targets()).toEqual(Array.from({ length: 10 }, (_, i) => `user${i + 10}`));
  });

  it('keeps the newest maxRows rows when there are more', async () => {
    addAuditRows(50, () => NOW);
    const result = await pruneTable(db, { table: 'admin_audit', timeColumn: 'at', cutoff: NOW - DAY, maxRows: 12, chunkRows: 5 });
    expect(result).toEqual({ expired: 0, overCap: 38 });
    expect(targets()).toEqual(Array.from({ length: 12 }, (_, i) => `user${i + 38}`));
    // nothing more to do the next time
    expect(await pruneTable(db, { table: 'admin_audit', timeColumn: 'at', cutoff: NOW - DAY, maxRows: 12 })).toEqual({ expired: 0, overCap: 0 });
  });

  it('gives the event loop a turn between chunks', async () => {
    addAuditRows(100, () => NOW - 10 * DAY);
    const counts: number[] = [];
    const count = () => (db.prepare('select count(*) as n from admin_audit').get() as { n: number }).n;
    // a callback queued now runs while the pruning is under way, not only after it
    const during = new Promise<void>((resolve) => setImmediate(() => resolve(void counts.push(count()))));
    const pruning = pruneTable(db, { table: 'admin_audit', timeColumn: 'at', cutoff: NOW, maxRows: 1000, chunkRows: 10 });
    await during;
    expect(await pruning).toEqual({ expired: 100, overCap: 0 });
    expect(counts[0]).toBeGreaterThan(0);
    expect(counts[0]).toBeLessThan(100);
    expect(count()).toBe(0);
  });

  it('stops between chunks when asked', async () => {
    addAuditRows(100, () => NOW - 10 * DAY);
    let chunks = 0;
    const result = await pruneTable(db, { table: 'admin_audit', timeColumn: 'at', cutoff: NOW, maxRows: 10, chunkRows: 10, stopped: () => ++chunks > 3 });
    expect(result).toEqual({ expired: 30, overCap: 0 });
  });
});

describe('scheduleRetention', () => {
  it('prunes at once, then stops cleanly', async () => {
    addAuditRows(30, (i) => NOW - (i < 10 ? 400 : 1) * DAY);
    const job = scheduleRetention(db, createLogger('silent', 'test'), { table: 'admin_audit', timeColumn: 'at', maxAgeMs: 365 * DAY, maxRows: 15 }, { now: () => NOW });
    while (targets().length > 15) await new Promise((resolve) => setImmediate(resolve));
    await job.stop();
    expect(targets()).toEqual(Array.from({ length: 15 }, (_, i) => `user${i + 15}`));
  });
});
