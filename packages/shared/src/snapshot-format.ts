/**
 * The snapshot's body on the wire and on disk (feed format 3): newline-delimited JSON, so that neither the master
 * that writes it nor the replica that applies it ever holds more than one record in memory (a million users are
 * hundreds of megabytes of JSON). One header line, then one line per record, entities in SNAPSHOT_ENTITIES order
 * (a group before the users in it, a user before its tokens), then one end line with the counts:
 *
 *   {"kind":"snapshot","format":3,"cluster_id":"…","issued_at":…,"head":{"seq":…,"hash":"…"}}
 *   {"entity":"group","data":{…}}
 *   {"entity":"user","data":{…}}
 *   …
 *   {"kind":"end","records":N,"counts":{"group":…,"user":…}}
 *
 * The whole body's SHA-256 is what the master signs (feed.ts); the replica checks it before reading a line. The end
 * line lets the reader refuse a body cut short even where no signature is checked (a file left on disk).
 */
import { z } from 'zod';
import { FEED_FORMAT, FeedError, SNAPSHOT_ENTITIES, feedHeadSchema, type FeedHead } from './feed.js';
import { errorMessage } from './errors.js';

export const SNAPSHOT_MEDIA_TYPE = 'application/x-ndjson';
/** The longest line a reader accepts: a record is a few kilobytes at most (settings with many backends). */
export const SNAPSHOT_MAX_LINE = 4 * 1024 * 1024;

export type SnapshotEntity = (typeof SNAPSHOT_ENTITIES)[number];
export type SnapshotCounts = Partial<Record<SnapshotEntity, number>>;

const headerSchema = z.strictObject({
  kind: z.literal('snapshot'),
  format: z.number().int(),
  cluster_id: z.string().max(100),
  issued_at: z.number().int(),
  head: feedHeadSchema,
});
export type SnapshotHeader = z.output<typeof headerSchema>;

const recordSchema = z.strictObject({ entity: z.enum(SNAPSHOT_ENTITIES), data: z.unknown() });
export interface SnapshotRecord {
  entity: SnapshotEntity;
  /** Validated against the entity's schema where it is applied. */
  data: unknown;
}

const countsSchema = z.partialRecord(z.enum(SNAPSHOT_ENTITIES), z.number().int().nonnegative());
const endSchema = z.strictObject({ kind: z.literal('end'), records: z.number().int().nonnegative(), counts: countsSchema });

export function snapshotHeaderLine(clusterId: string, head: FeedHead, issuedAt = Date.now()): string {
  const header: SnapshotHeader = { kind: 'snapshot', format: FEED_FORMAT, cluster_id: clusterId, issued_at: issuedAt, head };
  return `${JSON.stringify(header)}\n`;
}

export function snapshotRecordLine(entity: SnapshotEntity, data: unknown): string {
  return `${JSON.stringify({ entity, data })}\n`;
}

export function snapshotEndLine(counts: SnapshotCounts): string {
  const records = Object.values(counts).reduce((a, b) => a + b, 0);
  return `${JSON.stringify({ kind: 'end', records, counts })}\n`;
}

/** The bytes as UTF-8 text, without copying them first. */
const text = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');

const malformed = (message: string) => new FeedError('malformed', message);

function parseLine(line: string, number: number): unknown {
  try {
    return JSON.parse(line);
  } catch (err) {
    throw malformed(`snapshot line ${number} is not JSON: ${errorMessage(err)}`);
  }
}

/**
 * Splits bytes into lines as they come, none longer than SNAPSHOT_MAX_LINE (a body that never ends a line cannot fill
 * the memory). `end` refuses bytes after the last newline: every line of a snapshot ends with one.
 */
export class LineSplitter {
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  constructor(private readonly maxLine = SNAPSHOT_MAX_LINE) {}

  /** The complete lines in `chunk` (with what was left of the previous one), without their newlines. */
  push(chunk: Uint8Array): string[] {
    const lines: string[] = [];
    let start = 0;
    for (let nl = chunk.indexOf(0x0a); nl >= 0; nl = chunk.indexOf(0x0a, start)) {
      const part = chunk.subarray(start, nl);
      this.check(part.length);
      lines.push(this.pendingBytes === 0 ? text(part) : Buffer.concat([...this.pending, part]).toString('utf8'));
      this.pending = [];
      this.pendingBytes = 0;
      start = nl + 1;
    }
    if (start < chunk.length) {
      const rest = chunk.subarray(start);
      this.check(rest.length);
      // a copy: the caller reuses its buffer for the next chunk
      this.pending.push(Buffer.from(rest));
      this.pendingBytes += rest.length;
    }
    return lines;
  }

  end(): void {
    if (this.pendingBytes > 0) throw malformed('the snapshot ends in the middle of a line (cut short)');
  }

  private check(more: number): void {
    if (this.pendingBytes + more > this.maxLine) throw malformed(`a snapshot line is longer than ${this.maxLine} bytes`);
  }
}

/**
 * Reads a snapshot's lines in order and says what each is; refuses a body that is not one (wrong cluster or format,
 * records out of order, an end line that does not match, anything after it, or no end line: `finish`).
 */
export class SnapshotReader {
  private lines = 0;
  private header: SnapshotHeader | undefined;
  private entityIndex = 0;
  private readonly counts: Record<string, number> = {};
  private records = 0;
  private ended = false;

  constructor(private readonly clusterId: string) {}

  /** The header (first line), a record, or the end. */
  read(line: string): { header: SnapshotHeader } | { record: SnapshotRecord } | { end: true } {
    this.lines++;
    if (this.ended) throw malformed(`snapshot line ${this.lines} comes after its end line`);
    const value = parseLine(line, this.lines);
    if (this.header === undefined) return { header: (this.header = readHeader(value, this.clusterId)) };
    if ((value as { kind?: unknown } | null)?.kind === 'end') {
      this.checkEnd(value);
      this.ended = true;
      return { end: true };
    }
    const parsed = recordSchema.safeParse(value);
    if (!parsed.success) throw malformed(`snapshot line ${this.lines} is not a record: ${parsed.error.issues[0]?.message ?? ''}`);
    const { entity, data } = parsed.data;
    const index = SNAPSHOT_ENTITIES.indexOf(entity);
    if (index < this.entityIndex) {
      throw malformed(`snapshot line ${this.lines}: a ${entity} record after the ${SNAPSHOT_ENTITIES[this.entityIndex]} records (out of order)`);
    }
    this.entityIndex = index;
    this.counts[entity] = (this.counts[entity] ?? 0) + 1;
    this.records++;
    return { record: { entity, data } };
  }

  /** The snapshot was read to its end line; its header. */
  finish(): SnapshotHeader {
    if (!this.ended || this.header === undefined) throw malformed('the snapshot has no end line (cut short)');
    return this.header;
  }

  private checkEnd(value: unknown): void {
    const parsed = endSchema.safeParse(value);
    if (!parsed.success) throw malformed(`the snapshot's end line is not valid: ${parsed.error.issues[0]?.message ?? ''}`);
    const { records, counts } = parsed.data;
    const same = SNAPSHOT_ENTITIES.every((e) => (counts[e] ?? 0) === (this.counts[e] ?? 0));
    if (records !== this.records || !same) {
      throw malformed(`the snapshot's end line counts ${records} records, ${this.records} came (lines lost or added)`);
    }
  }
}

/** A snapshot's header line, checked: this cluster, this format. */
function readHeader(value: unknown, clusterId: string): SnapshotHeader {
  const format = (value as { format?: unknown } | null)?.format;
  if ((value as { kind?: unknown } | null)?.kind === 'snapshot' && format !== FEED_FORMAT) {
    throw new FeedError('incompatible', `the snapshot is in feed format ${String(format)}, this node reads ${FEED_FORMAT}: upgrade the master and its replicas to the same otpgate version`);
  }
  const parsed = headerSchema.safeParse(value);
  if (!parsed.success) throw malformed(`the snapshot does not start with its header line: ${parsed.error.issues[0]?.message ?? ''}`);
  if (parsed.data.cluster_id !== clusterId) throw new FeedError('wrong-cluster', `snapshot of cluster ${parsed.data.cluster_id}, this node is in ${clusterId}`);
  return parsed.data;
}
