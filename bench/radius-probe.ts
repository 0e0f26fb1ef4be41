/**
 * What the node benches share to time a node: one RADIUS Access-Request for a code-only bench user with radclient,
 * and a process's memory from /proc.
 */
import { spawnSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fromBase32 } from '@otpgate/core';

/** The TOTP code (RFC 6238: SHA-1, 30 s, 6 digits) of a base32 secret at `now`. */
export function totp(secret: string, now: number): string {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(now / 30_000)));
  const h = createHmac('sha1', Buffer.from(fromBase32(secret))).update(counter).digest();
  const o = h[19]! & 15;
  return String((h.readUInt32BE(o) & 0x7fffffff) % 1_000_000).padStart(6, '0');
}

/**
 * One Access-Request with radclient (Message-Authenticator included, secret testing123); the answer's code, or null
 * (no answer). An unanswered packet is sent again as it was (every 0.5 s, 10 times), never as a new request: a
 * retransmission is answered from the server's duplicate cache, while a new request with the same code would be
 * refused as a replay if the server had accepted the first one late.
 */
export function ask(port: number, user: string, secret: string): { code: string | null; output: string } {
  const request = `User-Name = "${user}"\nUser-Password = "${totp(secret, Date.now())}"\nMessage-Authenticator = 0x00\n`;
  const r = spawnSync('radclient', ['-r', '10', '-t', '0.5', `127.0.0.1:${port}`, 'auth', 'testing123'], { input: request, encoding: 'utf8' });
  const output = `${r.stdout}${r.stderr}`;
  return { code: /Received (Access-[A-Za-z]+)/.exec(output)?.[1] ?? null, output };
}

/** A field of /proc/PID/status in kB (VmRSS: now, VmHWM: the peak so far); null once the process is gone. */
export function procStatus(pid: number, field: 'VmRSS' | 'VmHWM'): number | null {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}
