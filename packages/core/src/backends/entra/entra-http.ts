import { rootCertificates } from 'node:tls';
import { Agent, request } from 'undici';
import { certificateErrorCode, errorCode, errorMessage, isUntrustedIssuer } from '@otpgate/shared';

/** A token or error body is a few KiB; anything far larger is not Entra ID and is not buffered. */
const MAX_BODY_BYTES = 256 * 1024;

export interface HttpAnswer {
  status: number;
  contentType: string;
  text: string;
}

/**
 * One keep-alive connection pool per backend: a TLS handshake to login.microsoftonline.com costs more than the token
 * request itself. Certificates are checked strictly; ca_certificates adds trust anchors (a private test CA, or a
 * TLS-inspecting proxy's CA) to Node's built-in roots instead of replacing them.
 */
export function createAgent(options: { timeoutMs: number; caCertificates: string }): Agent {
  return new Agent({
    keepAliveTimeout: 30_000,
    keepAliveMaxTimeout: 120_000,
    // bounds the sockets a burst of logins can open; further requests queue (still bounded by the timeout)
    connections: 32,
    headersTimeout: options.timeoutMs,
    bodyTimeout: options.timeoutMs,
    connect: {
      timeout: options.timeoutMs,
      rejectUnauthorized: true,
      ...(options.caCertificates ? { ca: [...rootCertificates, options.caCertificates] } : {}),
    },
  });
}

/** POST a form and read the whole answer, all within timeoutMs (connect, headers and body together). */
export async function postForm(agent: Agent, url: string, form: URLSearchParams, timeoutMs: number): Promise<HttpAnswer> {
  const response = await request(url, {
    method: 'POST',
    dispatcher: agent,
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', 'user-agent': 'otpgate' },
    body: form.toString(),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of response.body as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) {
      response.body.destroy();
      throw new Error(`answer larger than ${MAX_BODY_BYTES} bytes (HTTP ${response.statusCode})`);
    }
    chunks.push(chunk);
  }
  const contentType = response.headers['content-type'];
  return {
    status: response.statusCode,
    contentType: (Array.isArray(contentType) ? contentType[0] : contentType) ?? '',
    text: Buffer.concat(chunks).toString('utf8'),
  };
}

const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT']);

/** Why no HTTP answer came back, in words an admin can act on. */
export function describeTransportError(err: unknown, timeoutMs: number): string {
  const code = errorCode(err);
  const name = err instanceof Error ? err.name : '';
  if (name === 'TimeoutError' || (code !== undefined && TIMEOUT_CODES.has(code))) return `no answer within ${timeoutMs} ms`;
  const certificate = certificateErrorCode(err);
  if (certificate !== undefined) {
    const hint = isUntrustedIssuer(certificate) ? '; behind a TLS-inspecting proxy, add its CA to ca_certificates' : '';
    return `TLS: server certificate refused (${certificate})${hint}`;
  }
  const message = errorMessage(err);
  return code !== undefined && !message.includes(code) ? `${message} (${code})` : message;
}
