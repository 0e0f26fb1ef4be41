import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CLI_ACTOR } from '../src/services/context.js';
import { pruneState } from '../src/store/state-housekeeping.js';
import { SEED_HEX, createFixture, type Fixture } from './store-fixture.js';

let f: Fixture;
beforeEach(async () => {
  f = await createFixture();
});
afterEach(() => f.close());

const NOW = Date.UTC(2030, 0, 1);
const count = (table: string) => (f.store.state.prepare(`select count(*) as n from ${table}`).get() as { n: number }).n;

describe('state housekeeping', () => {
  it('drops expired challenges, idle counters and steps of removed tokens; keeps everything still in use', async () => {
    await f.services.users.add({ username: 'alice' }, CLI_ACTOR);
    const kept = f.services.tokens.add('alice', { secret: SEED_HEX }, CLI_ACTOR).token.id;
    const removed = f.services.tokens.add('alice', { secret: SEED_HEX }, CLI_ACTOR).token.id;
    f.services.tokens.remove(removed, CLI_ACTOR);
    const s = f.store.state;
    const challenge = s.prepare('insert into challenges (state, user_id, username, client, backend, groups, expires_at) values (?, 1, ?, ?, ?, ?, ?)');
    challenge.run('aa', 'alice', 'nas', 'local', '[]', NOW - 1);
    challenge.run('bb', 'alice', 'nas', 'local', '[]', NOW + 60_000);
    const counter = s.prepare('insert into auth_state (user_id, failures, locked_until, updated_at, unreported_failures) values (?, ?, ?, ?, ?)');
    counter.run(1, 2, null, NOW - 2 * 86_400_000, 0); // idle for two days: goes
    counter.run(2, 2, null, NOW - 2 * 86_400_000, 1); // not reported to the master yet: stays
    counter.run(3, 5, NOW + 60_000, NOW - 2 * 86_400_000, 0); // locked: stays
    counter.run(4, 1, null, NOW - 1000, 0); // recent: stays
    const step = s.prepare('insert into token_state (token_id, last_step, drift, updated_at, reported) values (?, 5, 0, 0, ?)');
    step.run(kept, 1);
    step.run(removed, 1);
    step.run(99_999, 0); // unknown and not yet reported: kept until reported

    expect(await pruneState(f.store, NOW)).toEqual({ challenges: 1, counters: 1, orphanSteps: 1, buckets: 0, vpnCredentials: 0, pushes: 0 });
    expect(count('challenges')).toBe(1);
    expect(s.prepare('select user_id from auth_state order by user_id').pluck().all()).toEqual([2, 3, 4]);
    expect(s.prepare('select token_id from token_state order by token_id').pluck().all()).toEqual([kept, 99_999]);
  });
});
