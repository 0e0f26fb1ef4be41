/**
 * The replication API's HTTP layer, on fastify: mutual TLS with the cluster CA, the replica named by its certificate
 * on every request (identify), each query and body checked against its schema before a handler runs, bodies held to
 * a limit, and every refusal answered as `{ "error": "..." }` with the status the replica acts on (401/403: it is not
 * accepted; 503: the master's disk is full, it keeps its reports and retries). The handlers are server.ts's.
 *   GET  /v1/snapshot?nonce=X&have=N              everything, signed with the master's hash of entry N (the replica's
 *                                                 head: it refuses a snapshot that does not continue its history)
 *   GET  /v1/changes?nonce=X&after=N&wait=S       entries after N, long-polled up to S seconds, signed
 *   POST /v1/steps                                a replica's accepted codes and counted failures (cluster-wide replay
 *                                                 and lockout)
 *   POST /v1/claims                               a replica's claim on a code before it answers Accept (one Accept per
 *                                                 code)
 *   POST /v1/vpn-credentials/use                  a replica's use of a one-time VPN credential (the master holds them)
 *   POST /v1/pushes                               a replica's login held for a push approval: the push (made, or the one
 *                                                 an earlier copy of the request made)
 *   POST /v1/pushes/decisions                     pushes decided since a time: a replica holding logins asks twice a second
 *   GET  /v1/ping                                 nothing: a replica opens its connection ahead of its first claim
 */
import type { TLSSocket } from 'node:tls';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { z } from 'zod';
import {
  FEED_FORMAT,
  FEED_NONCE,
  OtpgateError,
  stepClaimSchema,
  vpnCredentialClaimSchema,
  pushCreateSchema,
  pushDecisionsQuerySchema,
  stepReportSchema,
  type PushCreate,
  type PushCreateAnswer,
  type PushDecisionsAnswer,
  type PushDecisionsQuery,
  type ClaimAnswer,
  type StepReport,
  type TokenStateRecord,
  type VpnCredentialAnswer,
  type VpnCredentialClaim,
} from '@otpgate/shared';
import { storeWriteProblem, type Logger, type ReplicaEntry } from '@otpgate/core';

/** The longest long poll a replica may ask for, in seconds. */
export const MAX_WAIT_SECONDS = 60;
/** A step report: at most 10,000 of each kind (stepReportSchema), a few dozen bytes each. */
export const STEP_REPORT_LIMIT = 1_000_000;
/** A claim is one step: three numbers. */
export const CLAIM_LIMIT = 1024;

/** A request the API does not serve, with the status the replica gets. */
export class ReplicationRefusal extends OtpgateError {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super('replication-refused', message);
  }
}

const NO_NONCE = `the request carries no nonce: this master speaks feed format ${FEED_FORMAT}; upgrade the replica to the master's otpgate version`;

/** The request's nonce, which the answer's signature binds (feed.ts). */
const nonce = z.string({ error: (issue) => (issue.input === undefined ? NO_NONCE : 'query parameter nonce must be one value') }).regex(FEED_NONCE, {
  error: 'query parameter nonce must be 16-64 characters of A-Z a-z 0-9 _ -',
});

/** A whole number in a query parameter, 0 to `max`. */
function queryInt(name: string, max: number) {
  const error = `query parameter ${name} must be an integer 0-${max}`;
  return z
    .string({ error })
    .regex(/^\d{1,16}$/, { error })
    .transform(Number)
    .refine((n) => n <= max, { error });
}

export const changesQuerySchema = z.object({ nonce, after: queryInt('after', Number.MAX_SAFE_INTEGER), wait: queryInt('wait', MAX_WAIT_SECONDS).default(0) });
export const snapshotQuerySchema = z.object({ nonce, have: queryInt('have', Number.MAX_SAFE_INTEGER).default(0) });
export type ChangesQuery = z.output<typeof changesQuerySchema>;
export type SnapshotQuery = z.output<typeof snapshotQuerySchema>;

/** What each endpoint does, for the replica `identify` named (server.ts). */
export interface ReplicationHandlers {
  /** The enrolled, not revoked replica whose certificate the request came with; a ReplicationRefusal otherwise. */
  identify(req: FastifyRequest): ReplicaEntry;
  changes(replica: ReplicaEntry, query: ChangesQuery, req: FastifyRequest, reply: FastifyReply): Promise<void>;
  snapshot(replica: ReplicaEntry, query: SnapshotQuery, req: FastifyRequest, reply: FastifyReply): Promise<void>;
  /** How many of the reported steps the master took. */
  steps(replica: ReplicaEntry, report: StepReport, req: FastifyRequest): number;
  claim(replica: ReplicaEntry, claim: TokenStateRecord): ClaimAnswer;
  /** A replica's use of a one-time VPN credential: only the master holds them, so it decides for the cluster. */
  vpnCredential(replica: ReplicaEntry, claim: VpnCredentialClaim): VpnCredentialAnswer;
  /** A replica's held login: its push, made on the master (which alone keeps pushes and notifies). */
  push(replica: ReplicaEntry, push: PushCreate): PushCreateAnswer;
  pushDecisions(replica: ReplicaEntry, query: PushDecisionsQuery): PushDecisionsAnswer;
  /** This node's disk refused a write: logged at most once a minute by the caller. */
  storeUnwritable(reason: string): void;
}

export interface ReplicationTls {
  key: string;
  cert: string;
  ca: string;
}

/** What a body that fails its schema is called in the refusal ("bad step report: ..."). */
const BODY_NAMES = new Map<z.ZodType, string>([
  [stepReportSchema, 'step report'],
  [stepClaimSchema, 'claim'],
  [vpnCredentialClaimSchema, 'VPN credential claim'],
  [pushCreateSchema, 'push'],
  [pushDecisionsQuerySchema, 'push decisions query'],
]);

declare module 'fastify' {
  interface FastifyRequest {
    /** The replica the request's certificate names (set by the identify hook before anything else runs). */
    replica: ReplicaEntry | null;
  }
}

/**
 * The API as one fastify app (server.ts makes one per listen address). `tls` undefined: plain HTTP, for tests that
 * call inject() with an `identify` of their own.
 */
export function createReplicationApp(tls: ReplicationTls | undefined, handlers: ReplicationHandlers, logger: Logger): FastifyInstance {
  const app = Fastify({
    ...(tls ? { https: { ...tls, requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.2' as const } } : {}),
    logger: false,
    bodyLimit: STEP_REPORT_LIMIT,
    trustProxy: false,
    // node's own defaults: an idle connection goes after 5 s (the replicas' clients keep theirs 4 s), a request must
    // have come in whole within 5 minutes
    keepAliveTimeout: 5000,
    requestTimeout: 300_000,
    // a HEAD must not start a long poll or a snapshot: only the methods listed below are served
    exposeHeadRoutes: false,
    // stopping ends every connection, long polls included (the waiters were woken and answered first)
    forceCloseConnections: true,
  });
  if (tls) {
    app.server.on('tlsClientError', (err: Error, socket: TLSSocket) => {
      logger.warn({ event: 'replication-tls-refused', from: socket.remoteAddress, err: err.message }, 'replication API refused a TLS connection');
    });
  }
  app.decorateRequest('replica', null);
  // JSON bodies only (fastify's JSON parser, held to bodyLimit); a text body is refused (415), not parsed
  app.removeContentTypeParser('text/plain');
  // the shared zod schemas are the contract (the replica builds its reports with them): strict, nothing coerced or
  // stripped, as ajv's defaults would
  app.setValidatorCompiler<z.ZodType>(({ schema, httpPart }) => (data) => {
    const result = schema.safeParse(data);
    if (result.success) return { value: result.data };
    const issue = result.error.issues[0];
    const name = httpPart === 'body' ? BODY_NAMES.get(schema) : undefined;
    return { error: new ReplicationRefusal(400, name ? `bad ${name}: ${issue?.message ?? ''}` : (issue?.message ?? 'bad request')) };
  });
  app.addHook('onRequest', async (req) => {
    req.replica = handlers.identify(req);
  });
  app.setErrorHandler(errorHandler(handlers, logger));
  app.setNotFoundHandler((req) => {
    throw new ReplicationRefusal(404, `no such endpoint: ${req.method} ${req.url.split('?')[0]}`);
  });

  app.get<{ Querystring: ChangesQuery }>('/v1/changes', { schema: { querystring: changesQuerySchema } }, (req, reply) =>
    handlers.changes(req.replica!, req.query, req, reply),
  );
  app.get<{ Querystring: SnapshotQuery }>('/v1/snapshot', { schema: { querystring: snapshotQuerySchema } }, (req, reply) =>
    handlers.snapshot(req.replica!, req.query, req, reply),
  );
  app.post<{ Body: StepReport }>('/v1/steps', { schema: { body: stepReportSchema } }, async (req) => ({ accepted: handlers.steps(req.replica!, req.body, req) }));
  app.post<{ Body: TokenStateRecord }>('/v1/claims', { schema: { body: stepClaimSchema }, bodyLimit: CLAIM_LIMIT }, async (req) => handlers.claim(req.replica!, req.body));
  app.post<{ Body: VpnCredentialClaim }>('/v1/vpn-credentials/use', { schema: { body: vpnCredentialClaimSchema }, bodyLimit: CLAIM_LIMIT }, async (req) =>
    handlers.vpnCredential(req.replica!, req.body),
  );
  app.post<{ Body: PushCreate }>('/v1/pushes', { schema: { body: pushCreateSchema }, bodyLimit: CLAIM_LIMIT }, async (req) => handlers.push(req.replica!, req.body));
  app.post<{ Body: PushDecisionsQuery }>('/v1/pushes/decisions', { schema: { body: pushDecisionsQuerySchema }, bodyLimit: CLAIM_LIMIT }, async (req) =>
    handlers.pushDecisions(req.replica!, req.body),
  );
  // a replica's RADIUS thread opens its connection ahead of its first claim
  app.get('/v1/ping', async (_req, reply) => reply.code(204).send());
  return app;
}

/** The status and the sentence a replica gets for what went wrong. */
function refusalOf(err: FastifyError): { status: number; message: string; unwritable?: string } {
  if (err instanceof ReplicationRefusal) return { status: err.statusCode, message: err.message };
  const unwritable = storeWriteProblem(err);
  // this node's disk refusing a write (a replica's used steps) is not a bug: 503, the replica keeps them and retries
  if (unwritable) return { status: 503, message: `the master cannot write its store: ${unwritable}`, unwritable };
  if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return { status: 413, message: 'request body too large' };
  if (err.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || err.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' || err instanceof SyntaxError) {
    return { status: 400, message: 'request body is not JSON' };
  }
  if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return { status: 415, message: 'request body must be application/json' };
  const status = err.statusCode ?? 500;
  return { status: status >= 400 && status < 500 ? status : 500, message: err.message };
}

function errorHandler(handlers: ReplicationHandlers, logger: Logger) {
  return (err: FastifyError, req: FastifyRequest, reply: FastifyReply) => {
    const { status, message, unwritable } = refusalOf(err);
    const replica = req.replica?.name;
    if (unwritable) handlers.storeUnwritable(unwritable);
    else if (status >= 500) logger.error({ err: err.stack, replica }, 'replication API error');
    else logger.warn({ event: 'replication-refused', replica, status, reason: message, from: req.socket.remoteAddress }, 'replication API refused a request');
    if (reply.sent || reply.raw.headersSent) return;
    return reply.code(status).send({ error: message });
  };
}
