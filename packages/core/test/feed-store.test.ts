import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GENESIS_HASH } from '@otpgate/shared';
import { timeStep } from '../src/otp/verify.js';
import { CLI_ACTOR } from '../src/services/context.js';
import { changeTime, changesAfter, feedHashAt, isEmptyReport, markReported, recordReport, unreportedReport } from '../src/store/feed-store.js';
import { SEED_HEX, createFixture, type Fixture } from './store-fixture.js';

let f: Fixture;
beforeEach(async () => {
  f = await createFixture();
  await f.services.users.add({ username: 'alice' }, CLI_ACTOR);
  f.services.tokens.add('alice', { secret: SEED_HEX }, CLI_ACTOR);
});
afterEach(() => f.close());

describe('the feed store', () => {
  it('hands out the entries after one, with that entry hash, oldest first', () => {
    const head = f.store.head();
    expect(head.seq).toBeGreaterThanOrEqual(2);
    const window = changesAfter(f.store, 1, 1000);
    expect(window.head).toEqual(head);
    expect(window.afterHash).toBe(feedHashAt(f.store, 1));
    expect(window.entries.map((e) => e.seq)).toEqual(Array.from({ length: head.seq - 1 }, (_, i) => i + 2));
    expect(window.entries[0]!.prev_hash).toBe(window.afterHash);
    expect(changesAfter(f.store, 0, 1).entries).toHaveLength(1);
    expect(feedHashAt(f.store, 0)).toBe(GENESIS_HASH);
    expect(changeTime(f.store, 2)).toBe(window.entries[0]!.at);
  });

  it('gives no entries and no hash for a position ahead of the head', () => {
    const head = f.store.head();
    expect(changesAfter(f.store, head.seq + 5, 1000)).toEqual({ head, base: { seq: 0, hash: GENESIS_HASH }, afterHash: null, entries: [] });
    expect(feedHashAt(f.store, head.seq + 5)).toBeNull();
    expect(changeTime(f.store, head.seq + 5)).toBeUndefined();
  });

  it('takes a report, lists what is unreported, and marks it reported', () => {
    const token = f.store.readAll('token')[0]!;
    const now = Date.now();
    const step = { token_id: token.id, last_step: timeStep(token, now), drift: 0 };
    const outcome = recordReport(f.store, 'r1', { steps: [step, { token_id: 999, last_step: 1, drift: 0 }], failures: [], buckets: [] }, f.store.settings(), now);
    expect(outcome.steps).toEqual({ stored: 1, refused: [{ token_id: 999, step: 1, reason: 'unknown-token' }] });
    expect(outcome.locked).toBe(0);
    const report = unreportedReport(f.store, 100, now);
    expect(report.steps).toEqual([step]);
    markReported(f.store, report);
    expect(isEmptyReport(unreportedReport(f.store, 100, now))).toBe(true);
  });
});
