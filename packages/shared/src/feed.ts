import { FlattenedSign, flattenedVerify, type CryptoKey, type KeyObject } from 'jose';
import { z } from 'zod';
import { OtpgateError } from './errors.js';
import { ENTITIES, hashEntry, type ChangeEntry } from './change-entry.js';
import { tokenStateRecordSchema } from './records.js';

/**
 * The replication feed between a master and its replicas: change batches and snapshots, each signed with the
 * cluster's Ed25519 key as a JWS with a detached, unencoded payload (RFC 7515 Appendix F + RFC 7797): the body travels
 * as plain JSON and the signature (protected header + signature) in a header, so a 50 MB snapshot is not
 * base64-encoded twice.
 */
export const FEED_SIGNATURE_HEADER = 'otpgate-signature';
const FEED_TYP = 'otpgate-feed+json';

export type FeedFailure =
  | 'bad-signature'
  | 'malformed'
  | 'wrong-cluster'
  | 'gap'
  | 'chain-mismatch'
  | 'tampered'
  | 'resync-requested';

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

export async function signFeed(body: Uint8Array, key: SigningKey, clusterId: string): Promise<string> {
  const jws = await new FlattenedSign(body)
    .setProtectedHeader({ alg: 'EdDSA', b64: false, crit: ['b64'], typ: FEED_TYP, cid: clusterId })
    .sign(key);
  return `${jws.protected}..${jws.signature}`;
}

/** Verify a detached signature over `body`; throws FeedError('bad-signature') with the reason. */
export async function verifyFeed(body: Uint8Array, signature: string | undefined, key: SigningKey, clusterId: string): Promise<void> {
  const [protectedHeader, empty, sig] = (signature ?? '').split('.');
  if (!protectedHeader || empty !== '' || !sig) throw new FeedError('bad-signature', 'the response carries no feed signature');
  try {
    const { protectedHeader: header } = await flattenedVerify(
      { protected: protectedHeader, payload: body, signature: sig },
      key,
      { crit: { b64: true }, algorithms: ['EdDSA'] },
    );
    if (header?.typ !== FEED_TYP) throw new FeedError('bad-signature', `signed object of type ${String(header?.typ)}, not a feed`);
    if (header.cid !== clusterId) throw new FeedError('wrong-cluster', `signed for cluster ${String(header.cid)}, this replica is in ${clusterId}`);
  } catch (err) {
    if (err instanceof FeedError) throw err;
    throw new FeedError('bad-signature', `feed signature does not verify with the cluster's feed key (${(err as Error).message})`);
  }
}

/** The entities a snapshot carries, in the order they must be applied (groups before users, users before tokens). */
export const SNAPSHOT_ENTITIES = ['settings', 'group', 'user', 'token', 'token_state', 'hardware_token', 'client', 'admin'] as const;

const headSchema = z.strictObject({ seq: z.number().int().nonnegative(), hash: z.string().regex(/^[0-9a-f]{64}$/) });
export type FeedHead = z.output<typeof headSchema>;

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
  head: headSchema,
  entries: z.array(entrySchema),
  /** Set when the master cannot continue from `after` (pruned, or never had it): take a snapshot. */
  resync: z.string().optional(),
});
export type ChangeBatch = z.output<typeof changeBatchSchema>;

export const snapshotSchema = z.strictObject({
  kind: z.literal('snapshot'),
  cluster_id: z.string(),
  issued_at: z.number().int(),
  head: headSchema,
  /** Entity -> records (validated one by one when applied). */
  records: z.partialRecord(z.enum(SNAPSHOT_ENTITIES), z.array(z.unknown())),
});
export type Snapshot = z.output<typeof snapshotSchema>;

/** Parse a verified body; a body that is not the expected JSON is 'malformed'. */
export function parseFeedBody<S extends z.ZodType>(schema: S, body: Uint8Array, clusterId: string): z.output<S> {
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(body).toString('utf8'));
  } catch (err) {
    throw new FeedError('malformed', `feed body is not JSON: ${(err as Error).message}`);
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

/**
 * What a replica reports to the master (POST /v1/steps): the steps it accepted, and the failures it counted and the
 * successes that reset them (the cluster-wide lockout).
 */
export const stepReportSchema = z.strictObject({
  steps: z.array(tokenStateRecordSchema).max(10_000),
  failures: z
    .array(z.strictObject({ user_id: z.number().int().positive(), failures: z.number().int().min(0).max(1_000_000), success: z.boolean() }))
    .max(10_000)
    .default([]),
});
export type StepReport = z.output<typeof stepReportSchema>;

/** A replica's claim on a step before it answers Accept (POST /v1/claims), and the master's answer. */
export const stepClaimSchema = tokenStateRecordSchema;
export const claimAnswerSchema = z.strictObject({
  claimed: z.boolean(),
  reason: z.enum(['replay', 'unknown-token', 'outside-window']).optional(),
});
export type ClaimAnswer = z.output<typeof claimAnswerSchema>;
