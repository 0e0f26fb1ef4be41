/**
 * The Notifier over the configured channels: each notice goes to every channel that wants it, at most MAX_PARALLEL
 * deliveries at a time, and at most `queueSize` waiting or under way; past that a delivery is dropped (one log line
 * a second at most, and a metric). A channel's failure is one log line and a metric, never an exception for the
 * caller: a push flow must not fail because a chat bridge is down.
 */
import { Counter, type Registry } from 'prom-client';
import type { Notice, Notifier } from '@otpgate/shared';
import { errorMessage } from '@otpgate/shared';
import { LogLimiter, type Logger } from '@otpgate/core';
import type { NotifyChannel } from './channel.js';

/** Deliveries under way at once: each holds a socket to a mail or HTTP server for up to its timeout. */
const MAX_PARALLEL = 16;

const METRIC = 'otpgate_notifications_total';

export interface ChannelNotifierOptions {
  queueSize: number;
  logger: Logger;
  /** The node's metrics registry (Metrics.registry). */
  registry: Registry;
}

export class ChannelNotifier implements Notifier {
  private queued = 0;
  private running = 0;
  private readonly waiting: Array<() => void> = [];
  private readonly counter: Counter<'channel' | 'result'>;
  private readonly dropLog = new LogLimiter(1000);

  constructor(
    readonly channels: readonly NotifyChannel[],
    private readonly options: ChannelNotifierOptions,
  ) {
    const existing = options.registry.getSingleMetric(METRIC);
    this.counter =
      (existing as Counter<'channel' | 'result'> | undefined) ??
      new Counter({ name: METRIC, help: 'Notices delivered by channel and result (sent, failed, dropped: the queue was full)', labelNames: ['channel', 'result'], registers: [options.registry] });
    for (const channel of channels) for (const result of ['sent', 'failed', 'dropped']) this.counter.inc({ channel: channel.name, result }, 0);
  }

  async send(notice: Notice): Promise<void> {
    await Promise.all(this.channels.filter((c) => c.wants(notice)).map((c) => this.deliver(c, notice)));
  }

  async close(): Promise<void> {
    await Promise.all(this.channels.map((c) => c.close().catch(() => undefined)));
  }

  private async deliver(channel: NotifyChannel, notice: Notice): Promise<void> {
    const { logger } = this.options;
    if (this.queued >= this.options.queueSize) {
      this.counter.inc({ channel: channel.name, result: 'dropped' });
      if (this.dropLog.allow(channel.name)) {
        logger.warn({ event: 'notify-dropped', channel: channel.name, kind: notice.kind, queue_size: this.options.queueSize }, `notification queue full (${this.options.queueSize}): a ${notice.kind} notice for ${channel.name} was dropped`);
      }
      return;
    }
    this.queued++;
    try {
      await this.slot();
      try {
        await channel.deliver(notice);
        this.counter.inc({ channel: channel.name, result: 'sent' });
        logger.debug({ event: 'notify-sent', channel: channel.name, kind: notice.kind, user: notice.user }, `${notice.kind} notice for ${notice.user} sent by ${channel.name}`);
      } finally {
        this.release();
      }
    } catch (err) {
      this.counter.inc({ channel: channel.name, result: 'failed' });
      logger.warn({ event: 'notify-failed', channel: channel.name, kind: notice.kind, user: notice.user, err: errorMessage(err) }, `${notice.kind} notice for ${notice.user} by ${channel.name} failed: ${errorMessage(err)}`);
    } finally {
      this.queued--;
    }
  }

  /** Waits for one of the MAX_PARALLEL delivery slots. */
  private async slot(): Promise<void> {
    if (this.running < MAX_PARALLEL) this.running++;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  /** Hands the slot to the next waiting delivery, or frees it. */
  private release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.running--;
  }
}
