import { createHmac, timingSafeEqual } from 'node:crypto';
import type { OtpAlgorithm, OtpKind } from '@otpgate/shared';

/** A token as the verifier needs it: parameters, the secret in clear, and its replay/drift state. */
export interface OtpToken {
  id: number;
  kind: OtpKind;
  algorithm: OtpAlgorithm;
  digits: 6 | 8;
  period: 30 | 60;
  t0: number;
  key: Buffer;
  /** HOTP: the counter of the first code the token shows. */
  counter: number;
  windowPast: number;
  windowFuture: number;
  /** Last accepted step (TOTP) or counter (HOTP), -1 before the first use. */
  lastStep: number;
  /** Learned clock offset in steps (TOTP). */
  drift: number;
  /** The RADIUS request that used `lastStep` on this node, when one did (see StepUse 'repeat'). */
  usedBy?: string | null;
}

export interface OtpWindows {
  hotpWindow: number;
}

export type OtpCheck =
  | { result: 'match'; step: number; drift: number }
  | { result: 'replay'; step: number }
  | { result: 'no-match' };

const HMAC_NAMES: Record<OtpAlgorithm, string> = { SHA1: 'sha1', SHA256: 'sha256', SHA512: 'sha512' };

/**
 * The code at `counter` (RFC 4226 §5.3: HMAC of the 8-byte big-endian counter, dynamic truncation, modulo 10^digits),
 * with node:crypto directly: on the hot path otpauth's wrappers (Secret, its own byte and string conversions) cost
 * about as much again as the HMAC. The RFC 4226 and 6238 test vectors are in otp.test.ts.
 */
export function codeAt(token: Pick<OtpToken, 'key' | 'algorithm' | 'digits'>, counter: number): string {
  const message = Buffer.allocUnsafe(8);
  message.writeUInt32BE(Math.floor(counter / 0x1_0000_0000), 0);
  message.writeUInt32BE(counter >>> 0, 4);
  const mac = createHmac(HMAC_NAMES[token.algorithm], token.key).update(message).digest();
  const offset = mac[mac.length - 1]! & 0x0f;
  const binary = mac.readUInt32BE(offset) & 0x7fff_ffff;
  return String(binary % 10 ** token.digits).padStart(token.digits, '0');
}

function sameCode(a: string, b: string): boolean {
  return a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));
}

/** The TOTP time step at `nowMs` before drift is applied (RFC 6238: floor((T - T0) / X)). */
export function timeStep(token: Pick<OtpToken, 't0' | 'period'>, nowMs: number): number {
  return Math.floor((nowMs / 1000 - token.t0) / token.period);
}

/**
 * Check a code against one token. TOTP tries the steps from `windowPast` before to `windowFuture` after the current
 * (drift-corrected) step, nearest first; HOTP tries `hotpWindow` counters after the last accepted one. A code that
 * matches only steps at or before the last accepted one is a replay (Radiator's semantics). Pure: nothing is
 * stored here; the caller consumes the step atomically.
 */
export function verifyCode(token: OtpToken, code: string, nowMs: number, windows: OtpWindows): OtpCheck {
  if (code.length !== token.digits || !/^\d+$/.test(code)) return { result: 'no-match' };
  if (token.kind === 'hotp') {
    const first = Math.max(token.counter, token.lastStep + 1);
    for (let c = first; c < first + windows.hotpWindow; c++) {
      if (sameCode(codeAt(token, c), code)) return { result: 'match', step: c, drift: 0 };
    }
    for (let c = token.lastStep; c >= Math.max(token.counter, token.lastStep - windows.hotpWindow); c--) {
      if (sameCode(codeAt(token, c), code)) return { result: 'replay', step: c };
    }
    return { result: 'no-match' };
  }
  const raw = timeStep(token, nowMs);
  const centre = raw + token.drift;
  let replayStep: number | undefined;
  const span = Math.max(token.windowPast, token.windowFuture);
  for (let d = 0; d <= span; d++) {
    for (const offset of d === 0 ? [0] : [-d, d]) {
      if (offset < -token.windowPast || offset > token.windowFuture) continue;
      const step = centre + offset;
      if (step < 0 || !sameCode(codeAt(token, step), code)) continue;
      if (step > token.lastStep) return { result: 'match', step, drift: step - raw };
      replayStep ??= step;
    }
  }
  return replayStep === undefined ? { result: 'no-match' } : { result: 'replay', step: replayStep };
}

/**
 * Resynchronise a token from two consecutive codes, searched over `searchWindow` steps (or counters) around the
 * expected position. Returns the step of the second code and the drift it implies, or undefined.
 */
export function findConsecutive(
  token: OtpToken,
  first: string,
  second: string,
  nowMs: number,
  searchWindow: number,
): { step: number; drift: number } | undefined {
  if (token.kind === 'hotp') {
    const start = Math.max(token.counter, token.lastStep + 1);
    for (let c = start; c < start + searchWindow; c++) {
      if (sameCode(codeAt(token, c), first) && sameCode(codeAt(token, c + 1), second)) return { step: c + 1, drift: 0 };
    }
    return undefined;
  }
  const raw = timeStep(token, nowMs);
  for (let d = 0; d <= searchWindow; d++) {
    for (const offset of d === 0 ? [0] : [-d, d]) {
      const step = raw + offset;
      if (step < 1 || step <= token.lastStep + 1) continue;
      if (sameCode(codeAt(token, step - 1), first) && sameCode(codeAt(token, step), second)) return { step, drift: step - raw };
    }
  }
  return undefined;
}
