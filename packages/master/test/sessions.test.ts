import { describe, expect, it } from 'vitest';
import { Metrics } from '@otpgate/core';
import { SessionStore, sameToken } from '../src/web/sessions.js';

const MINUTE = 60_000;

describe('SessionStore', () => {
  it('ends a session idle for longer than the idle timeout, and keeps one in use', () => {
    let now = 0;
    const store = new SessionStore<null>({ name: 'test_sessions', idleMs: 30 * MINUTE, absoluteMs: 8 * 60 * MINUTE, now: () => now });
    const busy = store.create('admin', null, '127.0.0.1');
    const idle = store.create('admin', null, '127.0.0.1');
    for (now = 10 * MINUTE; now <= 60 * MINUTE; now += 10 * MINUTE) expect(store.get(busy.id), `at ${now / MINUTE} min`).toBe(busy);
    expect(store.get(idle.id)).toBeUndefined();
    // once ended it stays ended
    now += 1;
    expect(store.get(idle.id)).toBeUndefined();
  });

  it('ends a busy session at the absolute timeout', () => {
    let now = 0;
    const store = new SessionStore<null>({ name: 'test_sessions', idleMs: 30 * MINUTE, absoluteMs: 8 * 60 * MINUTE, now: () => now });
    const s = store.create('admin', null, '127.0.0.1');
    for (now = 20 * MINUTE; now <= 8 * 60 * MINUTE; now += 20 * MINUTE) expect(store.get(s.id), `at ${now / MINUTE} min`).toBe(s);
    now += 1;
    expect(store.get(s.id)).toBeUndefined();
  });

  it('signs out one session, and only that one', () => {
    const store = new SessionStore<null>({ name: 'test_sessions', idleMs: 30 * MINUTE, absoluteMs: 8 * 60 * MINUTE });
    const [a1, a2] = [store.create('admin', null, 'x'), store.create('admin', null, 'y')];
    store.destroy(a1.id);
    expect(store.get(a1.id)).toBeUndefined();
    expect(store.get(a2.id)).toBe(a2);
    expect(store.get(undefined)).toBeUndefined();
    expect(store.get('made-up')).toBeUndefined();
  });

  it('keeps at most maxSessions: a new session pushes out the one least recently used, and the size shows in metrics', async () => {
    let now = 0;
    const metrics = new Metrics({ processMetrics: false });
    const store = new SessionStore<null>({ name: 'test_sessions', idleMs: 30 * MINUTE, absoluteMs: 8 * 60 * MINUTE, maxSessions: 3, meter: metrics, now: () => now });
    const [a, b, c] = [store.create('a', null, 'x'), store.create('b', null, 'x'), store.create('c', null, 'x')];
    now += MINUTE;
    expect(store.get(a.id)).toBe(a);
    const d = store.create('d', null, 'x');
    expect(store.get(b.id)).toBeUndefined();
    for (const s of [a, c, d]) expect(store.get(s.id)).toBe(s);
    const text = await metrics.registry.metrics();
    expect(text).toContain('otpgate_bounded_map_entries{map="test_sessions"} 3');
    expect(text).toContain('otpgate_bounded_map_evictions_total{map="test_sessions"} 1');
  });
});

describe('sameToken', () => {
  it('matches equal non-empty tokens only', () => {
    expect(sameToken('abc', 'abc')).toBe(true);
    expect(sameToken('abd', 'abc')).toBe(false);
    expect(sameToken('ab', 'abc')).toBe(false);
    expect(sameToken(undefined, 'abc')).toBe(false);
    // no cookie and no field must not pass as a match
    expect(sameToken('', '')).toBe(false);
  });
});
