/**
 * The replication feed between a master and its replicas: change batches and snapshots, each signed with the
 * cluster's Ed25519 key as a JWS with a detached, unencoded payload (RFC 7515 Appendix F + RFC 7797). The body travels
 * as plain JSON; the signature (protected header + signature) in a header. What is signed is the body's SHA-256 and,
 * in the protected header, the nonce of the request it answers (feed format 2): an answer signed for one request is
 * refused for any other, so a signed answer recorded earlier (an old snapshot, a "re-sync" answer) cannot be replayed
 * to roll a replica back, and a snapshot of hundreds of megabytes built once is bound to each request by signing 64
 * bytes. Feed format 3: the snapshot's body is a stream of lines (snapshot-format.ts), written to a file and hashed as
 * it is written on the master, received into a file and hashed as it comes on the replica.
 */
import { createHash, randomBytes } from 'node:crypto';
import { FlattenedSign, decodeProtectedHeader, flattenedVerify, importJWK, type CryptoKey, type KeyObject } from 'jose';
import { z } from 'zod';
import { ClusterKeyError, OtpgateError, errorMessage } from './errors.js';
import { ENTITIES, hashEntry, type ChangeEntry } from './change-entry.js';
import { tokenStateRecordSchema } from './records.js';
import { AUTH_RESULTS, REJECT_REASONS } from './reasons.js';

export const FEED_SIGNATURE_HEADER = 'otpgate-signature';
const FEED_TYP = 'otpgate-feed+json';
/** The feed format this version speaks; master and replicas are upgraded together. */
export const FEED_FORMAT = 3;
/** A request nonce: base64url, 16 to 64 characters (the replica sends 24: 144 random bits). */
export const FEED_NONCE = /^[A-Za-z0-9_-]{16,64}$/;

export type FeedFailure =
  | 'bad-signature'
  | 'malformed'
  | 'wrong-cluster'
  | 'gap'
  | 'chain-mismatch'
  | 'tampered'
  | 'replayed'
  | 'incompatible'
  | 'rollback-refused'
  | 'resync-requested'
  | 'too-large';

/** A feed response that must not be applied. `resync` says whether a fresh snapshot is the way on. */
export class FeedError extends OtpgateError {
  constructor(
    readonly reason: FeedFailure,
    message: string,
  ) {
    super(`feed-${reason}`, message);
  }

  get resync(): boolean {
    return this.reason === 'gap' || this.reason === 'chain-mismatch' || this.reason === 'resync-requested';
  }
}

type SigningKey = CryptoKey | KeyObject;
/** The cluster's feed key as imported: the master signs with it, replicas verify. */
export type FeedKey = SigningKey;

/** How to get a good copy of each feed key file: the master's signing key, or a replica's copy of its public half. */
const FEED_KEY_FIX = {
  private:
    'put back the file from a backup made with --include-key ("otpgate restore FILE --force"), or promote a replica ("otpgate cluster promote") and enrol the others again',
  public: 'enrol this replica again ("otpgate cluster add-replica NAME" on the master, then "otpgate replica join BUNDLE --force" here)',
} as const;

/**
 * The cluster's Ed25519 feed key from the text of its JWK file at `path`: the master's signing key (`private`) or a
 * replica's verifying key (`public`). A damaged or foreign file is refused in one sentence naming the file and the fix.
 */
export async function importFeedKey(text: string, part: 'private' | 'public', path: string): Promise<SigningKey> {
  const refuse = (what: string, cause?: unknown) =>
    new ClusterKeyError(`${path} is not the cluster's Ed25519 ${part} feed key (${what}): ${FEED_KEY_FIX[part]}`, cause === undefined ? undefined : { cause });
  let jwk: unknown;
  try {
    jwk = JSON.parse(text);
  } catch (err) {
    throw refuse('not JSON', err);
  }
  if (typeof jwk !== 'object' || jwk === null) throw refuse('not a JWK');
  const { kty, crv, d } = jwk as { kty?: unknown; crv?: unknown; d?: unknown };
  if (kty !== 'OKP' || crv !== 'Ed25519') throw refuse(`key type ${typeof kty === 'string' ? kty : 'missing'}${typeof crv === 'string' ? ` ${crv}` : ''}, not OKP Ed25519`);
  if ((part === 'private') !== (typeof d === 'string')) throw refuse(part === 'private' ? 'the private half is missing' : 'it holds a private key');
  let key: Awaited<ReturnType<typeof importJWK>>;
  try {
    key = await importJWK(jwk, 'EdDSA');
  } catch (err) {
    throw refuse(errorMessage(err), err);
  }
  if (key instanceof Uint8Array) throw refuse('a symmetric key');
  return key;
}

/** What a signature binds besides the body: the request's nonce, and for a snapshot the master's entry at `have`. */
export interface FeedBinding {
  nonce: string;
  /** Snapshot: the master's hash of the entry the replica said it holds (null: not kept, or never had it). */
  at?: { seq: number; hash: string | null };
}

const bindingSchema = z.strictObject({
  nonce: z.string().regex(FEED_NONCE),
  at: z.strictObject({ seq: z.number().int().nonnegative(), hash: z.string().regex(/^[0-9a-f]{64}$/).nullable() }).optional(),
});

export function newFeedNonce(): string {
  return randomBytes(18).toString('base64url');
}

/** The body's SHA-256 (hex): what the signature covers. */
export function feedDigest(body: Uint8Array): string {
  return createHash('sha256').update(body).digest('hex');
}

export async function signFeed(digest: string, binding: FeedBinding, key: SigningKey, clusterId: string): Promise<string> {
  const jws = await new FlattenedSign(new TextEncoder().encode(digest))
    .setProtectedHeader({ alg: 'EdDSA', b64: false, crit: ['b64'], typ: FEED_TYP, cid: clusterId, fv: FEED_FORMAT, ...binding })
    .sign(key);
  return `${jws.protected}..${jws.signature}`;
}

/**
 * Verify a detached signature over `body` for the request that sent `nonce`; returns what it binds. Throws
 * FeedError: 'bad-signature', 'wrong-cluster', 'incompatible' (another feed format: master and replica versions
 * differ), 'replayed' (signed for another request).
 */
export function verifyFeed(body: Uint8Array, signature: string | undefined, key: SigningKey, clusterId: string, nonce: string): Promise<FeedBinding> {
  return verifyFeedDigest(feedDigest(body), signature, key, clusterId, nonce);
}

/** verifyFeed for a body hashed as it was received (feedDigest's hex SHA-256): a snapshot never held in memory. */
export async function verifyFeedDigest(digest: string, signature: string | undefined, key: SigningKey, clusterId: string, nonce: string): Promise<FeedBinding> {
  const [protectedHeader, empty, sig] = (signature ?? '').split('.');
  if (!protectedHeader || empty !== '' || !sig) throw new FeedError('bad-signature', 'the response carries no feed signature');
  let format: unknown;
  try {
    format = decodeProtectedHeader(`${protectedHeader}..${sig}`).fv;
  } catch {
    throw new FeedError('bad-signature', 'the feed signature\'s header is not readable');
  }
  if (format !== FEED_FORMAT) {
    // read before the signature is checked, only to say why it cannot be: an older master signs the body itself
    throw new FeedError(
      'incompatible',
      `the answer is in feed format ${typeof format === 'number' ? format : 1}, this replica speaks ${FEED_FORMAT}: upgrade the master and its replicas to the same otpgate version`,
    );
  }
  let header: Record<string, unknown> | undefined;
  try {
    ({ protectedHeader: header } = await flattenedVerify(
      { protected: protectedHeader, payload: new TextEncoder().encode(digest), signature: sig },
      key,
      { crit: { b64: true }, algorithms: ['EdDSA'] },
    ));
  } catch (err) {
    throw new FeedError('bad-signature', `feed signature does not verify with the cluster's feed key (${errorMessage(err)})`);
  }
  if (header?.typ !== FEED_TYP) throw new FeedError('bad-signature', `signed object of type ${String(header?.typ)}, not a feed`);
  if (header.cid !== clusterId) throw new FeedError('wrong-cluster', `signed for cluster ${String(header.cid)}, this replica is in ${clusterId}`);
  const binding = bindingSchema.safeParse({ nonce: header.nonce, at: header.at });
  if (!binding.success) throw new FeedError('malformed', `the feed signature binds no valid request nonce: ${binding.error.issues[0]?.message ?? ''}`);
  if (binding.data.nonce !== nonce) {
    throw new FeedError(
      'replayed',
      'the answer was signed for another request (not the nonce this replica sent): an old answer replayed by something between the replica and the master',
    );
  }
  return binding.data;
}

/** The entities a snapshot carries, in the order they must be applied (groups before users, users before tokens). */
export const SNAPSHOT_ENTITIES = ['settings', 'group', 'user', 'token', 'token_state', 'hardware_token', 'client', 'admin'] as const;

export const feedHeadSchema = z.strictObject({ seq: z.number().int().nonnegative(), hash: z.string().regex(/^[0-9a-f]{64}$/) });
export type FeedHead = z.output<typeof feedHeadSchema>;

const entrySchema = z.strictObject({
  seq: z.number().int().positive(),
  at: z.number().int().nonnegative(),
  entity: z.enum(ENTITIES),
  op: z.enum(['upsert', 'delete']),
  key: z.string().min(1),
  data: z.unknown(),
  prev_hash: z.string().regex(/^[0-9a-f]{64}$/),
  hash: z.string().regex(/^[0-9a-f]{64}$/),
});

export const changeBatchSchema = z.strictObject({
  kind: z.literal('changes'),
  cluster_id: z.string(),
  issued_at: z.number().int(),
  /** The replica's position the batch continues from, and the master's hash at that position (null: unknown). */
  after: z.number().int().nonnegative(),
  after_hash: z.string().nullable(),
  head: feedHeadSchema,
  entries: z.array(entrySchema),
  /** Set when the master cannot continue from `after` (pruned, or never had it): take a snapshot. */
  resync: z.string().optional(),
});
export type ChangeBatch = z.output<typeof changeBatchSchema>;

/** Parse a verified body; a body that is not the expected JSON is 'malformed'. */
export function parseFeedBody<S extends z.ZodType>(schema: S, body: Uint8Array, clusterId: string): z.output<S> {
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(body).toString('utf8'));
  } catch (err) {
    throw new FeedError('malformed', `feed body is not JSON: ${errorMessage(err)}`);
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) throw new FeedError('malformed', `feed body is not a valid feed document: ${parsed.error.issues[0]?.message ?? ''}`);
  const value = parsed.data as { cluster_id: string };
  if (value.cluster_id !== clusterId) throw new FeedError('wrong-cluster', `feed of cluster ${value.cluster_id}, this node is in ${clusterId}`);
  return parsed.data;
}

/**
 * Check that `entries` continue the chain from `from` without gap, reordering or edit. Returns the new head.
 */
export function verifyChain(entries: readonly ChangeEntry[], from: FeedHead): FeedHead {
  let head = from;
  for (const entry of entries) {
    if (entry.seq !== head.seq + 1) {
      throw new FeedError('gap', `expected entry ${head.seq + 1}, got ${entry.seq}`);
    }
    if (entry.prev_hash !== head.hash) {
      throw new FeedError('chain-mismatch', `entry ${entry.seq} does not follow this node's entry ${head.seq} (the master's history differs)`);
    }
    const { hash, ...body } = entry;
    if (hashEntry(body) !== hash) throw new FeedError('tampered', `entry ${entry.seq} does not match its hash`);
    head = { seq: entry.seq, hash };
  }
  return head;
}

/** The dashboards count requests per this many ms (5 minutes), in buckets starting at a multiple of it. */
export const AUTH_BUCKET_MS = 300_000;

/**
 * A node's count of the requests in one bucket with one result and reject reason (null for none). Results and
 * reasons come from the fixed lists, so a replica's report adds at most a few dozen rows per bucket on the master.
 */
export const authBucketCountSchema = z.strictObject({
  bucket: z.number().int().nonnegative().multipleOf(AUTH_BUCKET_MS),
  result: z.enum(AUTH_RESULTS),
  reason: z.enum(REJECT_REASONS).nullable(),
  count: z.number().int().min(0).max(1_000_000_000),
});
export type AuthBucketCount = z.output<typeof authBucketCountSchema>;

/**
 * What a replica reports to the master (POST /v1/steps): the steps it accepted, the failures it counted and the
 * successes that reset them (the cluster-wide lockout), and its requests per 5 minutes that changed since its last
 * report (the master's dashboard charts each node).
 */
export const stepReportSchema = z.strictObject({
  steps: z.array(tokenStateRecordSchema).max(10_000),
  failures: z
    .array(z.strictObject({ user_id: z.number().int().positive(), failures: z.number().int().min(0).max(1_000_000), success: z.boolean() }))
    .max(10_000)
    .default([]),
  buckets: z.array(authBucketCountSchema).max(10_000).default([]),
});
export type StepReport = z.output<typeof stepReportSchema>;

/** A replica's claim on a step before it answers Accept (POST /v1/claims), and the master's answer. */
export const stepClaimSchema = tokenStateRecordSchema;
export const claimAnswerSchema = z.strictObject({
  claimed: z.boolean(),
  reason: z.enum(['replay', 'unknown-token', 'outside-window']).optional(),
});
export type ClaimAnswer = z.output<typeof claimAnswerSchema>;
