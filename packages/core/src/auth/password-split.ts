/**
 * "password+code" as users type it: the code is the trailing N digits, N being the token's digit count. With tokens
 * of different lengths (a 6-digit app and an 8-digit hardware token) each length is a candidate.
 */
export interface SplitCandidate {
  digits: number;
  password: string;
  code: string;
}

export function splitCandidates(input: string, digitCounts: Iterable<number>): SplitCandidate[] {
  const out: SplitCandidate[] = [];
  for (const digits of new Set(digitCounts)) {
    if (input.length < digits) continue;
    const code = input.slice(input.length - digits);
    if (/^\d+$/.test(code)) out.push({ digits, password: input.slice(0, input.length - digits), code });
  }
  return out.sort((a, b) => a.digits - b.digits);
}
