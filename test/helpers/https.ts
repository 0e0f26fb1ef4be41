import type { IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';

/**
 * A raw HTTPS request to a node's self-signed web server: no browser, so no cookie or CSRF token unless given.
 * `localAddress` picks the source address (any of 127.0.0.0/8 works on loopback), for allow-list tests.
 */
export function httpsSend(
  method: 'GET' | 'POST',
  url: string,
  body = '',
  cookie = '',
  options: { localAddress?: string } = {},
): Promise<{ status: number; text: string; headers: IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const headers = { 'content-type': 'application/x-www-form-urlencoded', cookie };
    const req = httpsRequest(url, { method, rejectUnauthorized: false, headers, localAddress: options.localAddress }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text, headers: res.headers }));
    });
    req.on('error', reject);
    req.end(body);
  });
}
