/**
 * What otpgate tells people outside a request: a push to approve a login, an alert to admins. The push flow makes
 * notices; the notification channels (ntfy, Standard Webhooks, mail) deliver them. A notice never carries a secret:
 * the approval link identifies a pending push, and approving it still needs a portal session.
 */

/** A login waiting for its user's approval. */
export interface PushNotice {
  readonly kind: 'push';
  /** The otpgate user name. */
  readonly user: string;
  /** The user's mail address where one is known (mail channel). */
  readonly email?: string;
  /** The portal page that approves or denies this push. */
  readonly approveUrl: string;
  /** The RADIUS client's name and the address the request came from. */
  readonly client: string;
  readonly clientAddress: string;
  /** The number the user must pick (number matching), where the login showed one. */
  readonly number?: string;
  readonly createdAt: Date;
  readonly expiresAt: Date;
}

/** Something admins must hear about now: a user said a login was not theirs. */
export interface AccountAlert {
  readonly kind: 'alert';
  readonly user: string;
  readonly reason: 'not-me';
  /** Where the refused login came from, where known. */
  readonly client?: string;
  readonly clientAddress?: string;
  readonly at: Date;
}

export type Notice = PushNotice | AccountAlert;

/** Delivers notices. `send` resolves once every configured channel has tried; a channel's failure is logged, not thrown. */
export interface Notifier {
  send(notice: Notice): Promise<void>;
}
