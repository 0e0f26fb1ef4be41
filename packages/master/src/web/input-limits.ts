/**
 * How much the web servers (admin UI, enrollment portal) read: a form body, each field of a form or query string by
 * its name, and the uploads. Everything is checked in one place (checkFields, run by createWebApp on every request)
 * before any handler sees the input, so a page cannot forget it and nothing over-long reaches a log, the audit log
 * or the store.
 */
import { OtpgateError } from '@otpgate/shared';

const KiB = 1024;
const MiB = 1024 * KiB;

/** A form body (application/x-www-form-urlencoded): every form of both apps fits in it with room to spare. */
export const FORM_BODY_BYTES = 64 * KiB;

/** A field not named below: a name, a label, a number, a DN, a search box. */
export const DEFAULT_FIELD_BYTES = 1 * KiB;

/** UTF-8 bytes per field name, where the default does not fit. */
const FIELD_BYTES: Readonly<Record<string, number>> = {
  // sign-in: user names are at most 253 characters everywhere else (RADIUS User-Name, records)
  username: 256,
  password: 1 * KiB,
  // the page to go back to after signing in or after an error (a path with its query)
  next: 4 * KiB,
  _back: 4 * KiB,
  // multi-line and list fields
  attributes: 16 * KiB,
  'auth.realms': 16 * KiB,
  group_map: 16 * KiB,
  groups: 16 * KiB,
  users: 16 * KiB,
  servers: 4 * KiB,
  domains: 4 * KiB,
  user_filter: 4 * KiB,
  bind_template: 4 * KiB,
  ca_certificates: 48 * KiB,
};

/** A multipart upload route's limits: its files and the text fields beside them. */
export interface UploadLimits {
  /** Shown in the error message ("a config document"). */
  what: string;
  /** Bytes per file and per pasted field named in `fields`. */
  fileBytes: number;
  files: number;
  /** Fields that may be as long as a file (a PEM pasted instead of uploaded). */
  fields: readonly string[];
}

/**
 * The uploads and their limits. Imports: a users CSV of 100,000 users with tokens is about 9 MiB, so 32 MiB leaves
 * room for long names and e-mail addresses. Config documents: 64 MiB, a document with 100,000 users and tokens and
 * their secrets; larger ones go through `otpgate config import`. Certificates: a PEM certificate, key or chain is a
 * few KiB, 256 KiB each is generous.
 */
export const UPLOADS = {
  import: { what: 'an import file', fileBytes: 32 * MiB, files: 1, fields: [] },
  config: { what: 'a config document', fileBytes: 64 * MiB, files: 1, fields: [] },
  certificate: { what: 'a certificate, key or chain', fileBytes: 256 * KiB, files: 2, fields: ['certificate', 'key', 'chain'] },
} as const satisfies Record<string, UploadLimits>;

/** 256 KiB, 32 MiB: a limit as people read it. */
export function formatBytes(n: number): string {
  return n >= MiB ? `${n / MiB} MiB` : `${n / KiB} KiB`;
}

/** The most a field may hold, in UTF-8 bytes (`upload`: on an upload route, its files and pasted fields). */
export function fieldLimit(name: string, upload?: UploadLimits): number {
  if (upload?.fields.includes(name)) return upload.fileBytes;
  return FIELD_BYTES[name] ?? DEFAULT_FIELD_BYTES;
}

/** A request too big to read, or a field over its limit: answered 413 with this message. */
export class InputTooLargeError extends OtpgateError {
  readonly statusCode = 413;

  constructor(message: string) {
    super('input-too-large', message);
  }
}

function bytes(value: unknown): number {
  if (typeof value === 'string') return Buffer.byteLength(value);
  if (Buffer.isBuffer(value)) return value.length;
  return 0;
}

/** Refuse the first field of `fields` (a parsed form or query string) over its limit; uploaded files are not fields. */
export function checkFields(fields: unknown, upload?: UploadLimits): void {
  if (fields === null || typeof fields !== 'object') return;
  for (const [name, value] of Object.entries(fields as Record<string, unknown>)) {
    // uploads come as Buffers and were bounded by the multipart parser already
    if (Buffer.isBuffer(value)) continue;
    const limit = fieldLimit(name, upload);
    for (const one of Array.isArray(value) ? (value as unknown[]) : [value]) {
      const size = bytes(one);
      if (size > limit) throw new InputTooLargeError(`The field "${name.slice(0, 64)}" is too long: ${size} bytes, at most ${limit} bytes are accepted.`);
    }
  }
}
