/**
 * POST JSON for the HTTP channels (ntfy, webhooks) through undici, within a timeout that covers connect, headers and
 * body. The answer body is read and dropped (a small, bounded read: it is never needed). Errors name what went wrong
 * and never the URL, which may hold a token (Slack and Teams webhook URLs do).
 */
import { Agent, request } from 'undici';
import { errorCode, errorMessage } from '@otpgate/shared';
import { DeliveryError } from './channel.js';

export function httpAgent(timeoutMs: number): Agent {
  return new Agent({ connections: 8, headersTimeout: timeoutMs, bodyTimeout: timeoutMs, connect: { timeout: timeoutMs } });
}

export async function postJson(agent: Agent, url: string, body: string, headers: Record<string, string>, timeoutMs: number): Promise<void> {
  let status: number;
  try {
    const response = await request(url, {
      method: 'POST',
      dispatcher: agent,
      headers: { 'content-type': 'application/json', 'user-agent': 'otpgate', ...headers },
      body,
      signal: AbortSignal.timeout(timeoutMs),
    });
    status = response.statusCode;
    await response.body.dump({ limit: 64 * 1024 });
  } catch (err) {
    const code = errorCode(err);
    const timedOut = (err instanceof Error && err.name === 'TimeoutError') || (code !== undefined && code.startsWith('UND_ERR_') && code.endsWith('TIMEOUT'));
    throw new DeliveryError(timedOut ? `no answer within ${timeoutMs} ms` : `${errorMessage(err)}${code ? ` (${code})` : ''}`);
  }
  if (status < 200 || status > 299) throw new DeliveryError(`the server answered HTTP ${status}`);
}
