/**
 * The master's side of push approval, in its main thread: sends a notice for each new push (made by a RADIUS thread
 * here or by a replica through the API), times out pushes nobody answered, and records the user's decision from the
 * portal. Every push gets audit lines: created, then approved, denied, timed out or "not me" (which also locks the
 * account and alerts).
 */
import { InvalidInputError, PUSH_ID, type Notifier, errorMessage } from '@otpgate/shared';
import type { Logger } from '../logger.js';
import type { Store } from '../store/store.js';
import type { AdminAuditService } from '../services/admin-audit.js';
import { PushTable, type PushRow } from './push-table.js';

/** Pushes handled per tick (new ones notified, due ones timed out): a burst waits for the next tick. */
const BATCH = 500;
const TICK_MS = 250;

export type PushDecisionInput = 'approved' | 'denied' | 'not-me';

export interface PushServiceOptions {
  store: Store;
  logger: Logger;
  audit: AdminAuditService;
  notifier: Notifier;
  /** The portal's address as users reach it (https://vpn.example.com:9443): approval links start with it. */
  portalUrl: string;
}

export class PushService {
  private readonly table: PushTable;
  private lastSeq: number;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly options: PushServiceOptions) {
    this.table = new PushTable(options.store.state);
    // pushes made before this start were someone else's to notify (or are long gone)
    this.lastSeq = this.table.lastSeq();
  }

  start(): void {
    this.timer ??= setInterval(() => this.tick(), TICK_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Notify new pushes and time out due ones. */
  tick(now = Date.now()): void {
    try {
      for (const row of this.table.createdAfter(this.lastSeq, BATCH)) {
        this.lastSeq = row.seq;
        this.audit(row, 'push.created');
        void this.send(this.notice(row));
      }
      for (const row of this.table.expireDue(now, BATCH)) this.audit(row, 'push.timed-out');
    } catch (err) {
      this.options.logger.error({ err: errorMessage(err) }, 'push service: could not read or time out pushes');
    }
  }

  /** `userId`'s push with this id, whatever its state; undefined for anyone else's or a malformed id. */
  find(id: string, userId: number): PushRow | undefined {
    if (!PUSH_ID.test(id)) return undefined;
    const row = this.table.get(id);
    return row?.user_id === userId ? row : undefined;
  }

  pendingFor(userId: number): PushRow[] {
    return this.table.pendingFor(userId);
  }

  /**
   * The user's answer from the portal (`source`: their address). "not-me" locks the account (in the transaction that
   * records it) and alerts. Throws with a sentence for the user when the push is no longer pending.
   */
  decide(id: string, userId: number, decision: PushDecisionInput, source: string): PushRow {
    const row = this.table.decide(id, userId, decision);
    if (row === 'unknown') throw new InvalidInputError('no such login waiting for you', 'push');
    if (row === 'decided') throw new InvalidInputError('this login was answered already', 'push');
    if (row === 'expired') throw new InvalidInputError('this login waited too long and was refused: start it again', 'push');
    this.audit(row, decision === 'approved' ? 'push.approved' : decision === 'denied' ? 'push.denied' : 'push.not-me', source);
    if (decision === 'not-me') {
      this.options.logger.warn({ event: 'push-not-me', user: row.username, client: row.client }, `${row.username} said a login from ${row.client} was not theirs: account locked`);
      void this.send({ kind: 'alert', user: row.username, reason: 'not-me', client: row.client, clientAddress: row.client_address, at: new Date() });
    }
    return row;
  }

  approveUrl(id: string): string {
    return `${this.options.portalUrl}/account/push/${id}`;
  }

  private notice(row: PushRow) {
    return {
      kind: 'push' as const,
      user: row.username,
      approveUrl: this.approveUrl(row.id),
      client: row.client,
      clientAddress: row.client_address,
      ...(row.number ? { number: row.number } : {}),
      createdAt: new Date(row.created_at),
      expiresAt: new Date(row.expires_at),
    };
  }

  private async send(notice: Parameters<Notifier['send']>[0]): Promise<void> {
    try {
      await this.options.notifier.send(notice);
    } catch (err) {
      this.options.logger.error({ err: errorMessage(err), kind: notice.kind, user: notice.user }, 'a notice could not be sent');
    }
  }

  private audit(row: PushRow, action: string, source = row.client_address): void {
    this.options.audit.record({ name: row.username, source }, action, row.username, {
      details: { push: row.id, client: row.client, client_address: row.client_address, ...(row.number ? { number_matching: true } : {}) },
    });
  }
}
