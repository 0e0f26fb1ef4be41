/**
 * Every notice the master makes is written to its log, whatever channels deliver it (none configured: the log alone),
 * so an operator sees what was sent. No secret is in a notice: the approval link still needs a portal session.
 */
import type { Logger } from '@otpgate/core';
import type { Notice, Notifier } from '@otpgate/shared';

export function loggedNotifier(logger: Logger, channels: Notifier): Notifier {
  return {
    send(notice: Notice) {
      if (notice.kind === 'push') {
        logger.info(
          { event: 'notice', kind: 'push', user: notice.user, client: notice.client, client_address: notice.clientAddress, approve_url: notice.approveUrl },
          `push for ${notice.user} (login through ${notice.client}): approve at ${notice.approveUrl}`,
        );
      } else {
        logger.warn({ event: 'notice', kind: 'alert', user: notice.user, reason: notice.reason, client: notice.client }, `alert: ${notice.user} said a login was not theirs`);
      }
      return channels.send(notice);
    },
  };
}
