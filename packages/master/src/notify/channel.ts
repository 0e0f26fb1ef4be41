/**
 * A notification channel: one way of telling people (ntfy, a webhook, mail), interchangeable behind this interface
 * the way password backends are. The notifier (notifier.ts) queues, counts and logs around every channel in one place.
 */
import { OtpgateError, type Notice } from '@otpgate/shared';

export interface NotifyChannel {
  /** Names the channel in logs and metrics ("ntfy", "webhook:teams", "mail"): from the config, never from input. */
  readonly name: string;
  /** Whether this notice goes out here at all (a push to a user without a mail address does not go by mail). */
  wants(notice: Notice): boolean;
  /** Deliver it, or throw an Error whose message says why in words an admin can act on, with no secret in it. */
  deliver(notice: Notice): Promise<void>;
  close(): Promise<void>;
}

/** A delivery that failed: the message is logged as it is, so it never holds a URL, token or body. */
export class DeliveryError extends Error {}

/** A channel that cannot be set up from its config: the node does not start, and says which setting to fix. */
export class NotifyConfigError extends OtpgateError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('notify-config', message, options);
  }
}
