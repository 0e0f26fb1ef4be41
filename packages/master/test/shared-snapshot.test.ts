import { afterEach, describe, expect, it, vi } from 'vitest';
import { SharedSnapshot } from '../src/shared-snapshot.js';

describe('SharedSnapshot', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  function counting() {
    const builds: number[] = [];
    const releases: Array<(v: string) => void> = [];
    const failures: Array<(e: Error) => void> = [];
    const build = (head: number) => {
      builds.push(head);
      return new Promise<string>((resolve, reject) => {
        releases.push(resolve);
        failures.push(reject);
      });
    };
    return { builds, releases, failures, build };
  }

  it('builds once for concurrent requests at the same head, and reuses a finished one until the head moves', async () => {
    const c = counting();
    const shared = new SharedSnapshot(c.build);
    const first = shared.get(7);
    const second = shared.get(7);
    expect([first.shared, second.shared]).toEqual([false, true]);
    c.releases[0]!('snapshot at 7');
    expect(await Promise.all([first.result, second.result])).toEqual(['snapshot at 7', 'snapshot at 7']);
    expect(await shared.get(7).result).toBe('snapshot at 7');
    expect(c.builds).toEqual([7]);

    const moved = shared.get(8);
    expect(moved.shared).toBe(false);
    expect(c.builds).toEqual([7, 8]);
    shared.release();
  });

  it('does not keep a failed build, and lets a finished one go after a while', async () => {
    vi.useFakeTimers();
    const c = counting();
    const shared = new SharedSnapshot(c.build, 1000);
    const failed = shared.get(3);
    c.failures[0]!(new Error('worker died'));
    await expect(failed.result).rejects.toThrow('worker died');
    expect(shared.get(3).shared).toBe(false);
    c.releases[1]!('snapshot at 3');
    await vi.advanceTimersByTimeAsync(999);
    expect(shared.get(3).shared).toBe(true);
    await vi.advanceTimersByTimeAsync(2);
    expect(shared.get(3).shared).toBe(false);
    expect(c.builds).toEqual([3, 3, 3]);
    shared.release();
  });
});
