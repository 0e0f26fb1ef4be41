import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { PushCreateAnswer, PushDecision, PushDecisionsAnswer } from '@otpgate/shared';
import { HeldPushes, createLogger, type HeldPush, type PushChannel } from '../src/index.js';

/** A master as a RADIUS thread sees it: pushes made by key, decisions handed out when asked. */
class FakeMaster implements PushChannel {
  readonly made: HeldPush[] = [];
  readonly decided: PushDecision[] = [];
  reachable = true;
  private readonly ids = new Map<string, string>();

  create(push: HeldPush): Promise<PushCreateAnswer | 'unavailable'> {
    if (!this.reachable) return Promise.resolve('unavailable');
    let id = this.ids.get(push.request_key);
    if (!id) {
      id = `push-${String(this.ids.size).padStart(17, '0')}`;
      this.ids.set(push.request_key, id);
      this.made.push(push);
    }
    return Promise.resolve({ id, created_at: Date.now(), expires_at: Date.now() + 25_000, status: 'pending' });
  }

  decisions(since: number): Promise<PushDecisionsAnswer | 'unavailable'> {
    if (!this.reachable) return Promise.resolve('unavailable');
    return Promise.resolve({ decisions: this.decided.filter((d) => d.decided_at >= since), now: Date.now() });
  }

  decide(index: number, status: PushDecision['status']): void {
    this.decided.push({ id: `push-${String(index).padStart(17, '0')}`, status, decided_at: Date.now() });
  }
}

const logger = createLogger('silent', 'test');
let master: FakeMaster;
let held: HeldPushes;
const push = (n: number, user = 'alice'): HeldPush => ({ request_key: `nas1|auth${n}|${user}`, user_id: 1, username: user, client: 'nas1', client_address: '192.0.2.1' });
const settleTimers = () => vi.advanceTimersByTimeAsync(300);

beforeEach(() => {
  vi.useFakeTimers();
  master = new FakeMaster();
  held = new HeldPushes(master, { maxHeld: 3, pollMs: 250, graceMs: 1500, logger });
});
afterEach(() => {
  held.close();
  vi.useRealTimers();
});

describe('logins held for a push approval', () => {
  it('wait until the push is approved, then answer approved', async () => {
    const answer = held.hold(push(1), 25_000);
    await settleTimers();
    expect(held.size).toBe(1);
    master.decide(0, 'approved');
    await settleTimers();
    await expect(answer).resolves.toBe('approved');
    expect(held.size).toBe(0);
  });

  it('a retransmission joins the wait of its first copy: one push, the same answer', async () => {
    const first = held.hold(push(1), 25_000);
    const again = held.hold(push(1), 25_000);
    await settleTimers();
    expect(master.made).toHaveLength(1);
    expect(held.size).toBe(1);
    master.decide(0, 'denied');
    await settleTimers();
    await expect(first).resolves.toBe('denied');
    await expect(again).resolves.toBe('denied');
  });

  it('end as timed out after the timeout and the grace, without an answer', async () => {
    const answer = held.hold(push(1), 25_000);
    await vi.advanceTimersByTimeAsync(26_000);
    expect(held.size).toBe(1);
    await vi.advanceTimersByTimeAsync(600);
    await expect(answer).resolves.toBe('timeout');
    expect(held.size).toBe(0);
  });

  it('are bounded in count: one past the limit is refused at once as busy, and held ones are untouched', async () => {
    const waiting = [1, 2, 3].map((n) => held.hold(push(n), 25_000));
    await expect(held.hold(push(4), 25_000)).resolves.toBe('busy');
    expect(held.size).toBe(3);
    master.decide(1, 'approved');
    await settleTimers();
    await expect(waiting[1]).resolves.toBe('approved');
    expect(held.size).toBe(2);
  });

  it('a master that cannot be reached: the login ends unavailable, not held', async () => {
    master.reachable = false;
    await expect(held.hold(push(1), 25_000)).resolves.toBe('unavailable');
    expect(held.size).toBe(0);
  });

  it('a master unreachable while a login waits: it ends by its own timer', async () => {
    const answer = held.hold(push(1), 25_000);
    await settleTimers();
    master.reachable = false;
    await vi.advanceTimersByTimeAsync(27_000);
    await expect(answer).resolves.toBe('timeout');
  });

  it('a push decided before its retransmission reached this thread: answered at once as decided', async () => {
    const decided: PushChannel = {
      create: () => Promise.resolve({ id: 'x'.repeat(22), created_at: 0, expires_at: 1, status: 'not-me' }),
      decisions: () => Promise.resolve({ decisions: [], now: 0 }),
    };
    const other = new HeldPushes(decided, { maxHeld: 3, pollMs: 250, graceMs: 1500, logger });
    await expect(other.hold(push(1), 25_000)).resolves.toBe('not-me');
  });

  it('closing answers every held login as unavailable, and holds no more', async () => {
    const answer = held.hold(push(1), 25_000);
    held.close();
    await expect(answer).resolves.toBe('unavailable');
    await expect(held.hold(push(2), 25_000)).resolves.toBe('unavailable');
  });
});
