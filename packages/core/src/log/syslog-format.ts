import { SYSLOG_FACILITIES, type SyslogFacility } from '@otpgate/shared';

/** pino level label -> RFC 5424 severity (fatal: critical; 0-1 are for the whole system, not one daemon). */
const SEVERITY: Record<string, number> = { fatal: 2, error: 3, warn: 4, info: 6, debug: 7, trace: 7 };

/**
 * Longest message sent, header included. rsyslog's and syslog-ng's default limit is 8 KiB; an authentication line is
 * well under 1 KiB, so only a pathological line is cut.
 */
export const MAX_SYSLOG_MESSAGE_BYTES = 8192;

export interface SyslogHeader {
  facility: SyslogFacility;
  hostname: string;
  appName: string;
  procId: string;
}

const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

/** An RFC 5424 header field: printable US-ASCII without spaces, at most `max` characters, "-" when empty. */
export function headerField(value: string, max: number): string {
  const clean = value.replace(/[^\x21-\x7e]/g, '').slice(0, max);
  return clean === '' ? '-' : clean;
}

interface LogFields {
  level?: unknown;
  time?: unknown;
  event?: unknown;
}

/**
 * One pino JSON line as an RFC 5424 message: `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID - MSG`. The MSG is the
 * JSON line itself (SIEMs parse it); MSGID is the line's `event` ("auth", "admin", ...). Non-ASCII text gets the
 * UTF-8 BOM the RFC asks for.
 */
export function formatSyslogMessage(line: string, header: SyslogHeader): Buffer {
  let fields: LogFields = {};
  try {
    const parsed: unknown = JSON.parse(line);
    if (parsed !== null && typeof parsed === 'object') fields = parsed;
  } catch {
    // not JSON (should not happen with pino): sent as it is, at severity info
  }
  const severity = SEVERITY[typeof fields.level === 'string' ? fields.level : 'info'] ?? 6;
  const pri = SYSLOG_FACILITIES.indexOf(header.facility) * 8 + severity;
  const time = typeof fields.time === 'string' && /^\d{4}-\d\d-\d\dT[\d:.]+(Z|[+-]\d\d:\d\d)$/.test(fields.time) ? fields.time : new Date().toISOString();
  const msgId = typeof fields.event === 'string' ? headerField(fields.event, 32) : '-';
  const head = Buffer.from(`<${pri}>1 ${time} ${headerField(header.hostname, 255)} ${headerField(header.appName, 48)} ${headerField(header.procId, 128)} ${msgId} - `);
  const body = Buffer.from(line, 'utf8');
  const ascii = body.every((b) => b < 0x80);
  return truncateUtf8(Buffer.concat(ascii ? [head, body] : [head, BOM, body]), MAX_SYSLOG_MESSAGE_BYTES);
}

/** At most `max` bytes, never cutting a UTF-8 character in half. */
export function truncateUtf8(bytes: Buffer, max: number): Buffer {
  if (bytes.length <= max) return bytes;
  let end = max;
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end);
}

/** RFC 6587 octet counting (also RFC 5425 for TLS): "LENGTH SP MESSAGE", so a message may hold any byte. */
export function octetCounted(message: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`${message.length} `), message]);
}
