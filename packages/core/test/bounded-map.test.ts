import { describe, expect, it } from 'vitest';
import { BoundedMap } from '../src/bounded-map.js';
import { LogLimiter } from '../src/logger.js';
import { Metrics } from '../src/metrics.js';

describe('BoundedMap', () => {
  it('forgets an entry maxAgeMs after it was last written, and set or touch restarts its age', () => {
    let now = 0;
    const map = new BoundedMap<string, number>({ name: 'test', maxEntries: 10, maxAgeMs: 1000, now: () => now });
    map.set('a', 1).set('b', 2);
    now = 600;
    map.set('b', 3);
    now = 700;
    expect(map.touch('a')).toBe(1);
    now = 1500;
    expect(map.get('a')).toBe(1);
    expect(map.get('b')).toBe(3);
    now = 1600;
    expect(map.get('a')).toBe(1);
    expect(map.get('b')).toBeUndefined();
    now = 1700;
    expect(map.has('a')).toBe(false);
    expect(map.size).toBe(0);
    expect(map.touch('a')).toBeUndefined();
  });

  it('holds at most maxEntries: when full, the entry written longest ago goes first', () => {
    let now = 0;
    const map = new BoundedMap<string, number>({ name: 'test', maxEntries: 3, maxAgeMs: 60_000, now: () => now });
    for (const [i, key] of ['a', 'b', 'c'].entries()) {
      now = i;
      map.set(key, i);
    }
    map.set('a', 10); // written again: now the newest
    map.set('d', 4);
    expect([...map].map(([k]) => k)).toEqual(['c', 'a', 'd']);
    for (let i = 0; i < 100_000; i++) map.set(`flood-${i}`, i);
    expect(map.size).toBe(3);
    expect([...map].map(([k]) => k)).toEqual(['flood-99997', 'flood-99998', 'flood-99999']);
  });

  it('drops expired entries before evicting live ones, and reports its size and evictions to the metrics', async () => {
    let now = 0;
    const metrics = new Metrics({ processMetrics: false });
    const map = new BoundedMap<string, number>({ name: 'test_map', maxEntries: 2, maxAgeMs: 1000, meter: metrics, now: () => now });
    map.set('a', 1).set('b', 2);
    now = 1000;
    map.set('c', 3).set('d', 4); // a and b expired: no live entry evicted
    map.set('e', 5); // full of live entries: c goes
    expect([...map].map(([k]) => k)).toEqual(['d', 'e']);
    const text = await metrics.registry.metrics();
    expect(text).toContain('otpgate_bounded_map_entries{map="test_map"} 2');
    expect(text).toContain('otpgate_bounded_map_evictions_total{map="test_map"} 1');
  });

  it('takes a shorter lifetime per entry, never a longer one', () => {
    let now = 0;
    const map = new BoundedMap<string, number>({ name: 'test', maxEntries: 10, maxAgeMs: 1000, now: () => now });
    map.set('short', 1, 100).set('long', 2, 5000);
    now = 100;
    expect(map.get('short')).toBeUndefined();
    now = 999;
    expect(map.get('long')).toBe(2);
    now = 1000;
    expect(map.get('long')).toBeUndefined();
  });

  it('refuses a limit that is not positive', () => {
    expect(() => new BoundedMap({ name: 'bad', maxEntries: 0, maxAgeMs: 1 })).toThrow(RangeError);
    expect(() => new BoundedMap({ name: 'bad', maxEntries: 1, maxAgeMs: 0 })).toThrow(RangeError);
  });
});

describe('LogLimiter', () => {
  it('allows one line per key per interval, and stays bounded under a flood of keys', () => {
    let now = 0;
    const limiter = new LogLimiter(60_000, () => now);
    expect(limiter.allow('192.0.2.1')).toBe(true);
    expect(limiter.allow('192.0.2.1')).toBe(false);
    now = 60_000;
    expect(limiter.allow('192.0.2.1')).toBe(true);
    for (let i = 0; i < 50_000; i++) limiter.allow(`key-${i}`);
    // the oldest keys made room: the first of the flood may log again, the last may not
    expect(limiter.allow('key-0')).toBe(true);
    expect(limiter.allow('key-49999')).toBe(false);
  });
});
