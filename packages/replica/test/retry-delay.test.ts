import { describe, expect, it } from 'vitest';
import { retryDelayMs } from '../src/retry-delay.js';

const middle = () => 0.5; // no spread: the plain backoff

describe('the feed client\'s wait after failures in a row', () => {
  it('starts at 250 ms and doubles with each failure', () => {
    expect([0, 1, 2, 3, 4].map((n) => retryDelayMs(n, 30, middle))).toEqual([250, 500, 1000, 2000, 4000]);
  });

  it('never waits longer than cluster.max_retry_seconds, however many failures (and without overflowing)', () => {
    expect(retryDelayMs(7, 30, middle)).toBe(30_000);
    expect(retryDelayMs(1_000_000, 30, middle)).toBe(30_000);
    expect(retryDelayMs(1_000_000, 600, middle)).toBe(256_000); // 250 ms · 2^10: the doubling stops there
    expect(retryDelayMs(0, 1, middle)).toBe(250);
  });

  it('spreads each wait by a quarter either way, so replicas cut off together do not return together', () => {
    expect(retryDelayMs(2, 30, () => 0)).toBe(750);
    expect(retryDelayMs(2, 30, () => 0.999_999)).toBeCloseTo(1250, 2);
    for (let i = 0; i < 100; i++) {
      const wait = retryDelayMs(20, 30);
      expect(wait).toBeGreaterThanOrEqual(22_500);
      expect(wait).toBeLessThanOrEqual(37_500);
    }
  });
});
