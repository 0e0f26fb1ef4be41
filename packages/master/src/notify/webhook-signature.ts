/**
 * Standard Webhooks signatures (https://www.standardwebhooks.com): the key is the base64 after "whsec_", the signed
 * content is "<webhook-id>.<webhook-timestamp>.<body>", the signature "v1," + base64(HMAC-SHA256). Receivers check it
 * in constant time and refuse timestamps more than 5 minutes away.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export function webhookKey(secret: string): Buffer {
  return Buffer.from(secret.startsWith('whsec_') ? secret.slice('whsec_'.length) : secret, 'base64');
}

export function signWebhook(secret: string, id: string, timestampSeconds: number, body: string): string {
  return `v1,${createHmac('sha256', webhookKey(secret)).update(`${id}.${timestampSeconds}.${body}`).digest('base64')}`;
}

/** A receiver's check: one of the header's space-separated signatures matches, compared in constant time, and the timestamp is within `toleranceSeconds`. */
export function verifyWebhook(secret: string, headers: { id: string; timestamp: string; signature: string }, body: string, nowSeconds: number, toleranceSeconds = 300): boolean {
  const timestamp = Number(headers.timestamp);
  if (!/^\d{1,12}$/.test(headers.timestamp) || Math.abs(nowSeconds - timestamp) > toleranceSeconds) return false;
  const expected = Buffer.from(signWebhook(secret, headers.id, timestamp, body));
  return headers.signature.split(' ').some((candidate) => {
    const given = Buffer.from(candidate);
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
}
