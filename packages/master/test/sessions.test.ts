import { describe, expect, it } from 'vitest';
import { SessionStore, sameToken } from '../src/admin/sessions.js';

const MINUTE = 60_000;

describe('SessionStore', () => {
  it('ends a session idle for longer than the idle timeout, and keeps one in use', () => {
    let now = 0;
    const store = new SessionStore<null>(30 * MINUTE, 8 * 60 * MINUTE, () => now);
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
    const store = new SessionStore<null>(30 * MINUTE, 8 * 60 * MINUTE, () => now);
    const s = store.create('admin', null, '127.0.0.1');
    for (now = 20 * MINUTE; now <= 8 * 60 * MINUTE; now += 20 * MINUTE) expect(store.get(s.id), `at ${now / MINUTE} min`).toBe(s);
    now += 1;
    expect(store.get(s.id)).toBeUndefined();
  });

  it('signs out one session, and only that one', () => {
    const store = new SessionStore<null>(30 * MINUTE, 8 * 60 * MINUTE);
    const [a1, a2] = [store.create('admin', null, 'x'), store.create('admin', null, 'y')];
    store.destroy(a1.id);
    expect(store.get(a1.id)).toBeUndefined();
    expect(store.get(a2.id)).toBe(a2);
    expect(store.get(undefined)).toBeUndefined();
    expect(store.get('made-up')).toBeUndefined();
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
