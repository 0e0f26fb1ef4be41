import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Metrics } from '../src/metrics.js';
import { evaluateReadiness, storeCheck } from '../src/ops/health.js';
import { StoreHealth, describeWriteError, storeWriteProblem } from '../src/store/store-health.js';
import { createFixture, type Fixture } from './store-fixture.js';

/** What better-sqlite3 throws for a write the disk refuses. */
const diskFull = () => Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
const busy = () => Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' });

describe('store health: an unwritable store is seen, and seen to recover without a request', () => {
  let now = 1_000_000;
  let changes: boolean[];
  let health: StoreHealth;

  beforeEach(() => {
    changes = [];
    health = new StoreHealth(undefined, (writable) => changes.push(writable), () => now);
  });

  it('tries a probe write while failing, at most once a second, and clears on the first that works', () => {
    let probes = 0;
    let disk: 'full' | 'free' | 'locked' = 'full';
    const probe = () => {
      probes++;
      if (disk === 'full') throw diskFull();
      if (disk === 'locked') throw busy();
    };
    health.recheck(probe);
    expect(probes).toBe(0); // nothing to recheck while writes work
    health.writeFailed(diskFull());
    expect(health.problem).toEqual({ reason: 'the disk holding the data folder is full', since: now });
    health.recheck(probe);
    expect(probes).toBe(1);
    now += 500;
    health.recheck(probe);
    expect(probes).toBe(1);
    now += 500;
    disk = 'locked'; // another connection's lock proves nothing either way
    health.recheck(probe);
    expect([probes, health.problem?.reason]).toEqual([2, 'the disk holding the data folder is full']);
    now += 1000;
    disk = 'free';
    health.recheck(probe);
    expect([probes, health.problem]).toEqual([3, undefined]);
    expect(changes).toEqual([true, false, true]);
  });

  it('names the cause of a write the disk refused, through wrapped errors, and nothing else', () => {
    expect(storeWriteProblem(new Error('saving failed', { cause: diskFull() }))).toBe('the disk holding the data folder is full');
    expect(storeWriteProblem(Object.assign(new Error('x'), { code: 'SQLITE_IOERR_WRITE' }))).toBe('the disk reported an I/O error (SQLITE_IOERR_WRITE)');
    expect(storeWriteProblem(Object.assign(new Error('x'), { code: 'SQLITE_READONLY' }))).toMatch(/^the database file is read-only/);
    expect(storeWriteProblem(busy())).toBeUndefined();
    expect(storeWriteProblem(new TypeError('a bug'))).toBeUndefined();
    expect(describeWriteError(new TypeError('a bug'))).toBe('a bug');
  });
});

describe('the store readiness check', () => {
  let f: Fixture;
  beforeEach(async () => {
    f = await createFixture();
  });
  afterEach(() => f.close());

  it('turns ready again by itself once a probe write to the state database works', () => {
    const metrics = new Metrics({ processMetrics: false });
    const health = new StoreHealth(undefined, (writable) => metrics.storeWritable.set(writable ? 1 : 0));
    const check = storeCheck(f.store, health);
    health.writeFailed(diskFull());
    // the disk has room again (this one always had): the check's own probe write finds out
    const report = evaluateReadiness([check]);
    expect(report.ready).toBe(true);
    expect(health.problem).toBeUndefined();
    expect(f.store.state.prepare('select id, at from write_probe').all()).toEqual([{ id: 1, at: expect.any(Number) }]);
  });
});
