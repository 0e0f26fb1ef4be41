import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Fastify, {
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  type RouteHandlerMethod,
} from 'fastify';
import cookie from '@fastify/cookie';
import formbody from '@fastify/formbody';
import multipart from '@fastify/multipart';
import { CidrList, ConfigFileError, OtpgateError, ReadOnlyReplicaError, ValidationError, formatListenAddress, type ListenAddress } from '@otpgate/shared';
import { isLockBusy, LogLimiter, StoreBusyError, storeWriteProblem, type Logger } from '@otpgate/core';
import { adminCertificateFiles } from '../admin/certificate.js';
import { FORM_BODY_BYTES, InputTooLargeError, checkFields, formatBytes, type UploadLimits } from './input-limits.js';

const ASSETS = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'assets');
const ASSET_TYPES: Record<string, string> = { 'style.css': 'text/css; charset=utf-8', 'app.js': 'text/javascript; charset=utf-8' };

/** Strict headers on every answer: no inline script or style, no framing, HTTPS only, nothing cached by default. */
export const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'strict-transport-security': 'max-age=31536000',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'permissions-policy': 'camera=(), microphone=(), geolocation=()',
};

/** The node's web certificate (made at first start of the admin UI; the enrollment portal uses the same). */
export function webTls(dataDir: string): { key: string; cert: string; minVersion: 'TLSv1.2' } {
  const files = adminCertificateFiles(dataDir);
  return {
    key: readFileSync(files.key, 'utf8'),
    cert: readFileSync(files.cert, 'utf8') + (existsSync(files.chain) ? `\n${readFileSync(files.chain, 'utf8')}` : ''),
    minVersion: 'TLSv1.2',
  };
}

export interface WebAppOptions {
  /** "admin UI", "enrollment portal": for log lines. */
  what: string;
  /** The addresses and blocks it answers (admin.allow, enrollment.allow; validated with the config). */
  allow: readonly string[];
  /** That setting's name, for the log line about a refused address. */
  allowSetting: string;
  logger: Logger;
  /** The app's own page for a refused request (a full HTML document). */
  errorPage(refusal: Refusal): string;
  /**
   * An error a person can act on (an OtpgateError) raised by a form's action: the app may answer it its own way (the
   * admin UI sends it back to the form as a message) and returns undefined where it does not.
   */
  actionError?(req: FastifyRequest, reply: FastifyReply, message: string): FastifyReply | undefined;
  /**
   * The node's configuration database. A request that may change something waits here for its write lock without
   * blocking the thread (Database.whenWritable): SQLite's own wait would stop this thread, and with it a replica's
   * claims and the feed, while another process imports.
   */
  writeLock: { whenWritable(deadlineMs: number): Promise<boolean> };
  /** How long a change waits for that lock before it is refused (default WRITE_WAIT_MS). */
  writeWaitMs?: number;
}

/** A refused request, as its page tells it. */
export interface Refusal {
  status: number;
  title: string;
  message: string;
  /** A read-only replica's refusal: where the master is (ReadOnlyReplicaError). */
  masterUrl?: string;
}

/** How long a change waits for another write (an import, a restore) to let go of the database before it is refused. */
const WRITE_WAIT_MS = 10_000;

/** The least time between two log lines about requests refused from one address (its address, or over-long input). */
const REFUSAL_LOG_INTERVAL_MS = 60_000;

/**
 * A fastify app for one of the node's HTTPS web servers (admin UI, enrollment portal): requests from outside the
 * allow list refused before anything is read; forms parsed up to FORM_BODY_BYTES and every field held to its limit
 * (input-limits.ts), uploads only on routes made with uploadRoute; the stylesheet and script served by the node
 * itself; the security headers on every answer; errors as the app's own pages. The caller adds routes, then calls
 * listenWeb.
 */
export async function createWebApp(tls: ReturnType<typeof webTls>, options: WebAppOptions): Promise<FastifyInstance> {
  const app = Fastify({ https: tls, logger: false, bodyLimit: FORM_BODY_BYTES, trustProxy: false });
  const allow = CidrList.parse(options.allow);
  // the config was validated with the same parser: this only guards a caller that skipped it
  if (Array.isArray(allow)) throw new ConfigFileError(`${options.allowSetting}: ${allow.join('; ')}`);
  const refusals = new LogLimiter(REFUSAL_LOG_INTERVAL_MS);
  app.addHook('onRequest', async (req, reply) => {
    if (allow.contains(req.ip)) return undefined;
    if (refusals.allow(`address ${req.ip}`)) {
      options.logger.warn(
        { event: 'web-address-refused', from: req.ip, server: options.what },
        `${options.what} refused a request from ${req.ip}: not in ${options.allowSetting} (at most one line a minute per address)`,
      );
    }
    return sendError(reply, options, { status: 403, title: 'Not allowed', message: 'Requests from your address are not accepted here.' });
  });
  await app.register(cookie);
  // forms only: no JSON or text bodies, and multipart only where uploadRoute allows it
  app.removeAllContentTypeParsers();
  await app.register(formbody, { bodyLimit: FORM_BODY_BYTES });
  app.addHook('preValidation', async (req) => {
    checkFields(req.query);
    checkFields(req.body);
  });
  app.addHook('preHandler', async (req) => {
    if (req.method === 'GET' || req.method === 'HEAD') return;
    const wait = options.writeWaitMs ?? WRITE_WAIT_MS;
    if (!(await options.writeLock.whenWritable(wait))) throw new StoreBusyError(wait);
  });
  app.setErrorHandler(webErrorHandler(options, refusals));
  app.addHook('onSend', async (_req, reply, payload) => {
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) reply.header(name, value);
    if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store');
    return payload;
  });
  app.get('/assets/:name', (req, reply) => {
    const name = (req.params as { name: string }).name;
    const type = ASSET_TYPES[name];
    if (!type) return reply.code(404).send('not found');
    return reply.type(type).header('cache-control', 'max-age=3600').send(readFileSync(join(ASSETS, name)));
  });
  return app;
}

/**
 * A POST route taking an upload (multipart/form-data), with its own limits: files of `limits.fileBytes`, and its
 * other fields held to their limits like any form's. Only such routes read multipart bodies at all.
 */
export function uploadRoute(app: FastifyInstance, path: string, limits: UploadLimits, handler: RouteHandlerMethod): void {
  void app.register(async (scope) => {
    await scope.register(multipart, {
      attachFieldsToBody: 'keyValues',
      limits: {
        fileSize: limits.fileBytes,
        files: limits.files,
        // one byte more than a field may hold, so that a cut field is seen as too long (busboy cuts silently)
        fieldSize: (limits.fields.length > 0 ? Math.max(limits.fileBytes, FORM_BODY_BYTES) : FORM_BODY_BYTES) + 1,
        fields: 50,
        parts: 60,
      },
    });
    // after the multipart hook has put the fields in req.body (the app's own check ran before, on no body)
    scope.addHook('preValidation', async (req) => checkFields(req.body, limits));
    scope.post(path, { config: { upload: limits } }, handler);
  });
}

/**
 * Pages only the master serves, as an encapsulated plugin: while this node is a replica, `refuse` answers every route
 * registered in `pages` (a page added there later included) before any of its hooks or handlers runs, and routes
 * outside the plugin are not affected. The role is read on every request, as it is the store's.
 */
export function masterOnlyPages(
  app: FastifyInstance,
  guard: { isMaster(): boolean; refuse(req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> },
  pages: (scope: FastifyInstance) => void,
): void {
  void app.register(async (scope) => {
    scope.addHook('onRequest', async (req, reply) => (guard.isMaster() ? undefined : guard.refuse(req, reply)));
    pages(scope);
  });
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Set by uploadRoute: the route's upload limits, for the error page. */
    upload?: UploadLimits;
  }
}

/** What was too large, in words a person can act on (the parsers' own messages are terse: "reach files limit"). */
function tooLargeMessage(err: FastifyError, upload: UploadLimits | undefined): string {
  if (err instanceof InputTooLargeError) return err.message;
  if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return `The form sent more than ${formatBytes(FORM_BODY_BYTES)}, more than any form here needs.`;
  if (upload && err.code === 'FST_REQ_FILE_TOO_LARGE') return `The file is too large: ${upload.what} may be at most ${formatBytes(upload.fileBytes)}.`;
  if (upload && err.code === 'FST_FILES_LIMIT') return `Too many files: this form takes at most ${upload.files}.`;
  return `Too much data (${err.message}).`;
}

/** An OtpgateError's text for a page: a ValidationError's problems on one line. */
function problemText(err: OtpgateError): string {
  return err instanceof ValidationError ? err.problems.map((p) => `${p.path}: ${p.message}`).join('; ') : err.message;
}

/**
 * Errors as the app's own pages, so route handlers just throw. Input over a limit: 413. The node's disk refusing a
 * write: 503, logged once a minute. Another write holding the database past WRITE_WAIT_MS: the form again with the
 * reason, or 503. A change asked of a read-only replica: 403, naming the master. Other otpgate
 * errors, which say what to do: 404 for what does not exist, 400 for the rest, or the app's own answer to a form's
 * (actionError). Other bad requests: the status fastify chose. Anything else is a bug: 500, logged with its stack.
 */
function webErrorHandler(options: WebAppOptions, refusals: LogLimiter) {
  return (err: FastifyError, req: FastifyRequest, reply: FastifyReply) => {
    const status = err instanceof InputTooLargeError ? 413 : (err.statusCode ?? 500);
    if (status === 413) {
      const message = tooLargeMessage(err, req.routeOptions.config.upload);
      if (refusals.allow(`too-large ${req.ip}`)) {
        // what was too large, never the value
        options.logger.warn({ event: 'web-input-too-large', from: req.ip, path: req.routeOptions.url ?? '', server: options.what, problem: message }, `${options.what} refused an over-long request`);
      }
      return sendError(reply, options, { status: 413, title: 'Too much data', message });
    }
    const unwritable = storeWriteProblem(err);
    if (unwritable) {
      // the node's disk, not a bug: say so on the page, and once a minute in the log rather than a stack trace each time
      if (refusals.allow('store-unwritable')) {
        options.logger.error(
          { event: 'web-store-unwritable', server: options.what, reason: unwritable },
          `${options.what}: cannot write the database (${unwritable}); pages that change something answer 503 until it works again (at most one line a minute)`,
        );
      }
      return sendError(reply, options, { status: 503, title: 'Cannot save now', message: `This node cannot write its database: ${unwritable}. Nothing was changed; try again once that is fixed.` });
    }
    if (err instanceof StoreBusyError || isLockBusy(err)) {
      const busy = err instanceof StoreBusyError ? err : new StoreBusyError(options.writeWaitMs ?? WRITE_WAIT_MS);
      if (refusals.allow('store-busy')) {
        options.logger.warn(
          { event: 'web-store-busy', server: options.what, path: req.routeOptions.url ?? '' },
          `${options.what}: a change found the database held by another write (an import or a restore?) and was refused (at most one line a minute)`,
        );
      }
      const answered = options.actionError?.(req, reply, busy.message);
      if (answered) return answered;
      return sendError(reply.header('retry-after', '10'), options, { status: 503, title: 'Busy: try again', message: busy.message });
    }
    if (err instanceof ReadOnlyReplicaError) {
      return sendError(reply, options, { status: 403, title: 'This node is a read-only replica', message: err.message, masterUrl: err.masterUrl });
    }
    if (err instanceof OtpgateError) {
      const message = problemText(err);
      const answered = options.actionError?.(req, reply, message);
      if (answered) return answered;
      const notFound = err.code === 'not-found';
      return sendError(reply, options, { status: notFound ? 404 : 400, title: notFound ? 'Not found' : 'Cannot show this', message });
    }
    if (status >= 400 && status < 500) return sendError(reply, options, { status, title: 'Request refused', message: err.message });
    options.logger.error({ err: err.stack, path: req.url, server: options.what }, `${options.what} error`);
    return sendError(reply, options, { status: 500, title: 'Something went wrong', message: 'The error has been logged on the node.' });
  };
}

function sendError(reply: FastifyReply, options: WebAppOptions, refusal: Refusal): FastifyReply {
  return reply.code(refusal.status).type('text/html; charset=utf-8').send(options.errorPage(refusal));
}

export async function listenWeb(app: FastifyInstance, address: ListenAddress, logger: Logger, what: string): Promise<void> {
  await app.listen({ host: address.host, port: address.port });
  const bound = app.server.address() as { address: string; port: number };
  logger.info({ listen: formatListenAddress({ host: bound.address, port: bound.port }) }, `${what} listening (HTTPS)`);
}
