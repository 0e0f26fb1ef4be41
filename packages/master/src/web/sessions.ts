import { randomBytes, timingSafeEqual } from 'node:crypto';
import { BoundedMap, type MapMeter } from '@otpgate/core';

export interface Session<D> {
  id: string;
  /** Who signed in: the admin, or the user enrolling a token. */
  subject: string;
  /** What the web app keeps for this session. */
  data: D;
  address: string;
  createdAt: number;
  lastSeenAt: number;
  /** Sent back in every form and checked on every state-changing request. */
  csrf: string;
  /** One-shot messages for the next page (after a redirect). */
  flash: Array<{ kind: 'ok' | 'error'; text: string }>;
}

/** Sessions kept at most; past that, signing in ends the session least recently used. */
const MAX_SESSIONS = 10_000;

export interface SessionStoreOptions {
  /** The map's name in metrics ("admin_sessions"). */
  name: string;
  idleMs: number;
  absoluteMs: number;
  meter?: MapMeter;
  maxSessions?: number;
  now?: () => number;
}

/**
 * Server-side sessions: the cookie holds only a random id, so signing out (or a restart) ends a session for good.
 * Idle and absolute timeouts are enforced on every lookup; the sessions live in a bounded map whose age limit is the
 * idle timeout (a lookup restarts it).
 */
export class SessionStore<D> {
  private readonly sessions: BoundedMap<string, Session<D>>;
  private readonly absoluteMs: number;
  private readonly now: () => number;

  constructor(options: SessionStoreOptions) {
    this.absoluteMs = options.absoluteMs;
    this.now = options.now ?? Date.now;
    this.sessions = new BoundedMap({
      name: options.name,
      maxEntries: options.maxSessions ?? MAX_SESSIONS,
      maxAgeMs: options.idleMs,
      meter: options.meter,
      now: this.now,
    });
  }

  create(subject: string, data: D, address: string): Session<D> {
    const t = this.now();
    const session: Session<D> = {
      id: randomBytes(32).toString('base64url'),
      subject,
      data,
      address,
      createdAt: t,
      lastSeenAt: t,
      csrf: randomBytes(32).toString('base64url'),
      flash: [],
    };
    this.sessions.set(session.id, session);
    return session;
  }

  /** The live session for this id (touched), or undefined when unknown, idle too long or too old. */
  get(id: string | undefined): Session<D> | undefined {
    if (!id) return undefined;
    const session = this.sessions.touch(id);
    if (!session) return undefined;
    const t = this.now();
    if (t - session.createdAt > this.absoluteMs) {
      this.sessions.delete(id);
      return undefined;
    }
    session.lastSeenAt = t;
    return session;
  }

  destroy(id: string): void {
    this.sessions.delete(id);
  }
}

export function sameToken(a: string | undefined, b: string): boolean {
  // an empty expected token (no cookie sent) matches nothing, not an empty field
  if (typeof a !== 'string' || b.length === 0 || a.length !== b.length) return false;
  return timingSafeEqual(Buffer.from(a), Buffer.from(b));
}
