/**
 * What a notice says, the same on every channel: a title, a body, an urgency and the page it links to (pure, so
 * tests read it as the spec). Names come from the store or the admin's client list; control characters are dropped
 * and lengths bounded all the same, since a mail subject or a chat message is the wrong place for either.
 */
import { formatTime, type Notice } from '@otpgate/shared';

export interface NoticeText {
  title: string;
  body: string;
  /** ntfy's scale: 1 (min) to 5 (urgent). */
  priority: 1 | 2 | 3 | 4 | 5;
  /** ntfy tags (emoji short codes). */
  tags: string[];
  /** The page the notice opens. */
  click?: string;
}

const MAX_NAME = 128;

/** One line of at most `max` characters: control characters (line breaks, escapes) become spaces. */
export function oneLine(text: string, max = MAX_NAME): string {
  // eslint-disable-next-line no-control-regex
  const flat = text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

export function noticeText(notice: Notice): NoticeText {
  const user = oneLine(notice.user);
  if (notice.kind === 'push') {
    const from = `${oneLine(notice.client)} (${oneLine(notice.clientAddress, 64)})`;
    const number = notice.number === undefined ? '' : ` Pick the number ${oneLine(notice.number, 8)} on the approval page.`;
    return {
      title: `Approve the VPN login of ${user}?`,
      body: `A login for ${user} through ${from} at ${formatTime(notice.createdAt.getTime())} waits for your approval until ${formatTime(notice.expiresAt.getTime())}.${number} If it was not you, deny it.`,
      priority: 4,
      tags: ['lock'],
      click: notice.approveUrl,
    };
  }
  const where = notice.client === undefined ? '' : ` through ${oneLine(notice.client)}${notice.clientAddress === undefined ? '' : ` (${oneLine(notice.clientAddress, 64)})`}`;
  return {
    title: `${user} reported a login that was not theirs`,
    body: `At ${formatTime(notice.at.getTime())} ${user} refused a login${where} as not theirs ("this wasn't me"). The account is locked until an admin unlocks it.`,
    priority: 5,
    tags: ['warning'],
  };
}

/** The webhook body: Standard Webhooks' recommended envelope (type, timestamp, data). */
export function webhookPayload(notice: Notice): { type: string; timestamp: string; data: Record<string, unknown> } {
  const text = noticeText(notice);
  if (notice.kind === 'push') {
    return {
      type: 'push.requested',
      timestamp: notice.createdAt.toISOString(),
      data: {
        user: notice.user,
        client: notice.client,
        client_address: notice.clientAddress,
        number: notice.number ?? null,
        approve_url: notice.approveUrl,
        expires_at: notice.expiresAt.toISOString(),
        title: text.title,
        text: text.body,
      },
    };
  }
  return {
    type: 'account.alert',
    timestamp: notice.at.toISOString(),
    data: { user: notice.user, reason: notice.reason, client: notice.client ?? null, client_address: notice.clientAddress ?? null, title: text.title, text: text.body },
  };
}
