import { codeAt, fromBase32 } from '@otpgate/core';

/** The TOTP code of a base32 secret at now + `stepOffset` steps (SHA-1, 6 digits, 30 s unless told). */
export function totpCode(secretBase32: string, stepOffset = 0, options: { digits?: 6 | 8; period?: number; algorithm?: 'SHA1' | 'SHA256' | 'SHA512' } = {}): string {
  const period = options.period ?? 30;
  const step = Math.floor(Date.now() / 1000 / period) + stepOffset;
  return codeAt({ key: fromBase32(secretBase32), algorithm: options.algorithm ?? 'SHA1', digits: options.digits ?? 6 }, step);
}

/** A six-digit code that is not the token's code for any step near now. */
export function wrongCode(secretBase32: string): string {
  const near = new Set([-2, -1, 0, 1, 2].map((d) => totpCode(secretBase32, d)));
  for (let n = 0; ; n++) {
    const candidate = String((Number(totpCode(secretBase32)) + 500_000 + n) % 1_000_000).padStart(6, '0');
    if (!near.has(candidate)) return candidate;
  }
}

/** Wait until at least `seconds` remain in the current 30 s step, so a code cannot expire mid-test. */
export async function awaitFreshStep(seconds = 8): Promise<void> {
  const left = 30 - ((Date.now() / 1000) % 30);
  if (left < seconds) await new Promise((r) => setTimeout(r, left * 1000 + 50));
}

export function secretFromUri(uri: string): string {
  const secret = new URL(uri).searchParams.get('secret');
  if (!secret) throw new Error(`no secret in ${uri}`);
  return secret;
}
