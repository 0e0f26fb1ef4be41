/**
 * Logins held for a push approval, in one RADIUS thread. A held request is a promise, a timer and two map entries:
 * nothing runs for it while it waits, so a thousand cost the event loop nothing (bench/push-held.ts). One poller per
 * thread asks which pushes were decided (the state database on a master, the master over the claim connection on a
 * replica), every `pollMs` while anything is held, and settles the requests it holds for them.
 *
 * Keyed by RADIUS client + Request Authenticator + user: a retransmission that reaches this thread joins the wait of
 * its first copy (one push, the same answer); one that reaches another node finds the same push at the master, which
 * keys pushes the same way. Bounded in count (`maxHeld`: one more is refused, with a log line) and in age (each
 * request's timer: the push's timeout plus `graceMs`, so an approval given in its last second still arrives).
 */
import { MAX_PUSH_DECISIONS, type PushCreate, type PushCreateAnswer, type PushDecisionsAnswer, type PushStatus } from '@otpgate/shared';
import type { Logger } from '../logger.js';
import { LogLimiter } from '../logger.js';
import type { MapMeter } from '../bounded-map.js';

/** How a held login ended, or why it was never held. */
export type PushOutcome = Exclude<PushStatus, 'pending'> | 'unavailable' | 'rate-limited' | 'locked' | 'disabled' | 'busy';

/** A push to make: what the master stores (the user's name for the portal and the notice). */
export type HeldPush = PushCreate & { username: string };

/** Where pushes are made and their decisions read: the state database (master) or the master (replica). */
export interface PushChannel {
  create(push: HeldPush): Promise<PushCreateAnswer | 'unavailable'>;
  /** Decisions made at or after `since` (the master's clock). */
  decisions(since: number): Promise<PushDecisionsAnswer | 'unavailable'>;
}

export interface HeldPushesOptions {
  maxHeld: number;
  /** How often decisions are asked for while anything is held. */
  pollMs: number;
  /** Past the push's timeout, how long a request still waits for a decision made just in time. */
  graceMs: number;
  logger: Logger;
  meter?: MapMeter;
}

/** Decisions are asked for from this long before the last answer's time: one committed meanwhile is not missed. */
const SINCE_MARGIN_MS = 2000;

interface Held {
  key: string;
  id: string | undefined;
  settled: boolean;
  promise: Promise<PushOutcome>;
  resolve: (outcome: PushOutcome) => void;
  timer: NodeJS.Timeout;
}

export class HeldPushes {
  private readonly byKey = new Map<string, Held>();
  private readonly byId = new Map<string, Held>();
  private readonly logLimiter = new LogLimiter(60_000);
  private poller: NodeJS.Timeout | undefined;
  private polling = false;
  private closed = false;
  private since = 0;

  constructor(
    private readonly channel: PushChannel,
    private readonly options: HeldPushesOptions,
  ) {
    options.meter?.watchMap('held_pushes', () => this.byKey.size);
  }

  get size(): number {
    return this.byKey.size;
  }

  /** Hold the login `push` names until its push is decided or `timeoutMs` (plus the grace) has passed. */
  hold(push: HeldPush, timeoutMs: number): Promise<PushOutcome> {
    if (this.closed) return Promise.resolve('unavailable');
    const joined = this.byKey.get(push.request_key);
    if (joined) return joined.promise;
    if (this.byKey.size >= this.options.maxHeld) {
      if (this.logLimiter.allow('full')) {
        this.options.logger.warn(
          { event: 'push-held-full', held: this.byKey.size },
          `${this.byKey.size} logins already wait for a push approval in this RADIUS thread (radius.max_held_pushes): refusing more (at most one line a minute)`,
        );
      }
      return Promise.resolve('busy');
    }
    let resolve!: (outcome: PushOutcome) => void;
    const promise = new Promise<PushOutcome>((r) => (resolve = r));
    const held: Held = { key: push.request_key, id: undefined, settled: false, promise, resolve, timer: undefined as unknown as NodeJS.Timeout };
    held.timer = setTimeout(() => this.settle(held, 'timeout'), timeoutMs + this.options.graceMs);
    this.byKey.set(held.key, held);
    this.channel.create(push).then(
      (answer) => this.created(held, answer),
      () => this.settle(held, 'unavailable'),
    );
    return promise;
  }

  /** Settle every held login (the thread stops): the NAS hears a Reject, and its user tries again. */
  close(): void {
    this.closed = true;
    clearInterval(this.poller);
    this.poller = undefined;
    for (const held of [...this.byKey.values()]) this.settle(held, 'unavailable');
  }

  private created(held: Held, answer: PushCreateAnswer | 'unavailable'): void {
    if (held.settled) return;
    if (answer === 'unavailable') return this.settle(held, 'unavailable');
    if ('refused' in answer) return this.settle(held, answer.refused);
    if (answer.status !== 'pending') return this.settle(held, answer.status);
    held.id = answer.id;
    this.byId.set(answer.id, held);
    const since = answer.created_at - SINCE_MARGIN_MS;
    if (this.poller === undefined) {
      this.since = since;
      this.poller = setInterval(() => void this.poll(), this.options.pollMs);
      this.poller.unref();
    } else {
      this.since = Math.min(this.since, since);
    }
  }

  private async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      const answer = await this.channel.decisions(this.since).catch(() => 'unavailable' as const);
      // an unreachable master: the held requests' own timers end them
      if (answer === 'unavailable') return;
      for (const d of answer.decisions) {
        const held = this.byId.get(d.id);
        if (held && d.status !== 'pending') this.settle(held, d.status);
      }
      // a full answer may have left decisions out: the next question starts at its last one
      const last = answer.decisions.at(-1);
      this.since = answer.decisions.length >= MAX_PUSH_DECISIONS && last ? last.decided_at : answer.now - SINCE_MARGIN_MS;
    } finally {
      this.polling = false;
    }
  }

  private settle(held: Held, outcome: PushOutcome): void {
    if (held.settled) return;
    held.settled = true;
    clearTimeout(held.timer);
    this.byKey.delete(held.key);
    if (held.id !== undefined) this.byId.delete(held.id);
    if (this.byId.size === 0 && this.poller !== undefined) {
      clearInterval(this.poller);
      this.poller = undefined;
    }
    held.resolve(outcome);
  }
}
