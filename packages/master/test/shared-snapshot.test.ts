import { afterEach, describe, expect, it, vi } from 'vitest';
import { SharedSnapshot } from '../src/replication/shared-snapshot.js';

describe('SharedSnapshot', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  function counting() {
    const builds: number[] = [];
    const disposed: string[] = [];
    const releases: Array<(v: string) => void> = [];
    const failures: Array<(e: Error) => void> = [];
    const build = (head: number) => {
      builds.push(head);
      return new Promise<string>((resolve, reject) => {
        releases.push(resolve);
        failures.push(reject);
      });
    };
    return { builds, disposed, releases, failures, build, dispose: (v: string) => void disposed.push(v) };
  }

  it('builds once for concurrent requests at the same head, and reuses a finished one until the head moves', async () => {
    const c = counting();
    const shared = new SharedSnapshot(c.build, c.dispose);
    const first = shared.get(7);
    const second = shared.get(7);
    expect([first.shared, second.shared]).toEqual([false, true]);
    c.releases[0]!('snapshot at 7');
    expect(await Promise.all([first.result, second.result])).toEqual(['snapshot at 7', 'snapshot at 7']);
    const third = shared.get(7);
    expect(await third.result).toBe('snapshot at 7');
    expect(c.builds).toEqual([7]);
    for (const lease of [first, second, third]) lease.release();

    const moved = shared.get(8);
    expect(moved.shared).toBe(false);
    expect(c.builds).toEqual([7, 8]);
    moved.release();
    shared.drop();
  });

  it('disposes of a snapshot once it is no longer handed out and the last request sending it is done', async () => {
    const c = counting();
    const shared = new SharedSnapshot(c.build, c.dispose);
    const sending = shared.get(7);
    c.releases[0]!('file 7');
    await sending.result;
    // the head moved: 7 is no longer handed out, but a request is still sending it
    const next = shared.get(8);
    await Promise.resolve();
    expect(c.disposed).toEqual([]);
    sending.release();
    sending.release();
    await Promise.resolve();
    expect(c.disposed).toEqual(['file 7']);
    // dropped while still building, with nobody waiting: disposed of once the build ends
    next.release();
    shared.drop();
    c.releases[1]!('file 8');
    await next.result;
    await Promise.resolve();
    expect(c.disposed).toEqual(['file 7', 'file 8']);
  });

  it('does not keep a failed build, and lets a finished one go after a while', async () => {
    vi.useFakeTimers();
    const c = counting();
    const shared = new SharedSnapshot(c.build, c.dispose, 1000);
    const failed = shared.get(3);
    c.failures[0]!(new Error('worker died'));
    await expect(failed.result).rejects.toThrow('worker died');
    failed.release();
    const retry = shared.get(3);
    expect(retry.shared).toBe(false);
    c.releases[1]!('snapshot at 3');
    await retry.result;
    retry.release();
    await vi.advanceTimersByTimeAsync(999);
    const kept = shared.get(3);
    expect(kept.shared).toBe(true);
    kept.release();
    expect(c.disposed).toEqual([]);
    await vi.advanceTimersByTimeAsync(2);
    expect(c.disposed).toEqual(['snapshot at 3']);
    expect(shared.get(3).shared).toBe(false);
    expect(c.builds).toEqual([3, 3, 3]);
    shared.drop();
  });
});
