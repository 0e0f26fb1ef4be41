import { describe, expect, it } from 'vitest';
import { fromBase32, generateSecret, parseSecret, toBase32 } from '../src/otp/secret.js';
import { provisioningUri } from '../src/otp/uri.js';
import { codeAt, findConsecutive, timeStep, verifyCode, type OtpToken } from '../src/otp/verify.js';
import { InvalidInputError } from '@otpgate/shared';

/** RFC 4226 Appendix D / RFC 6238 Appendix B seed. */
const SEED = '12345678901234567890';
const RFC_KEY = Buffer.from(SEED, 'ascii');
const NOW = 1_700_000_000_000;

function totp(over: Partial<OtpToken> = {}): OtpToken {
  return {
    id: 1, kind: 'totp', algorithm: 'SHA1', digits: 6, period: 30, t0: 0, key: RFC_KEY, counter: 0,
    windowPast: 1, windowFuture: 1, lastStep: -1, drift: 0, ...over,
  };
}

function hotp(over: Partial<OtpToken> = {}): OtpToken {
  return totp({ kind: 'hotp', windowPast: 0, windowFuture: 0, ...over });
}

const W = { hotpWindow: 10 };

describe('HOTP (RFC 4226 Appendix D)', () => {
  const expected = ['755224', '287082', '359152', '969429', '338314', '254676', '287922', '162583', '399871', '520489'];

  it.each(expected.map((code, counter) => [counter, code] as const))('counter %i gives %s', (counter, code) => {
    expect(codeAt({ key: RFC_KEY, algorithm: 'SHA1', digits: 6 }, counter)).toBe(code);
  });

  it('verifyCode finds each Appendix D code at its counter', () => {
    expected.forEach((code, counter) => {
      expect(verifyCode(hotp(), code, NOW, W)).toEqual({ result: 'match', step: counter, drift: 0 });
    });
  });
});

describe('TOTP (RFC 6238 Appendix B, 8 digits)', () => {
  // the RFC's reference code uses a key of the hash's size: the ASCII seed repeated to 20, 32 and 64 bytes
  const keys = {
    SHA1: Buffer.from(SEED, 'ascii'),
    SHA256: Buffer.from(SEED.repeat(2).slice(0, 32), 'ascii'),
    SHA512: Buffer.from(SEED.repeat(4).slice(0, 64), 'ascii'),
  } as const;
  const vectors: Array<[number, string, string, string, string]> = [
    // T (s), step (hex), SHA1, SHA256, SHA512
    [59, '0000000000000001', '94287082', '46119246', '90693936'],
    [1111111109, '00000000023523EC', '07081804', '68084774', '25091201'],
    [1111111111, '00000000023523ED', '14050471', '67062674', '99943326'],
    [1234567890, '000000000273EF07', '89005924', '91819424', '93441116'],
    [2000000000, '0000000003F940AA', '69279037', '90698825', '38618901'],
    [20000000000, '0000000027BC86AA', '65353130', '77737706', '47863826'],
  ];

  it('uses 20-, 32- and 64-byte keys', () => {
    expect([keys.SHA1.length, keys.SHA256.length, keys.SHA512.length]).toEqual([20, 32, 64]);
    expect(keys.SHA512.toString()).toBe('1234567890123456789012345678901234567890123456789012345678901234');
  });

  for (const [seconds, stepHex, ...codes] of vectors) {
    it(`T = ${seconds}`, () => {
      const step = timeStep({ t0: 0, period: 30 }, seconds * 1000);
      expect(step).toBe(parseInt(stepHex, 16));
      (['SHA1', 'SHA256', 'SHA512'] as const).forEach((algorithm, i) => {
        const token = totp({ algorithm, digits: 8, key: keys[algorithm], windowPast: 0, windowFuture: 0 });
        expect(codeAt(token, step), algorithm).toBe(codes[i]);
        expect(verifyCode(token, codes[i]!, seconds * 1000, W), algorithm).toEqual({ result: 'match', step, drift: 0 });
      });
    });
  }

  it('gives other codes with the 20-byte seed for SHA-256 (the key length matters)', () => {
    expect(codeAt({ key: keys.SHA1, algorithm: 'SHA256', digits: 8 }, 1)).not.toBe('46119246');
  });
});

describe('timeStep', () => {
  it('changes exactly at the period boundary and honours T0', () => {
    expect(timeStep({ t0: 0, period: 30 }, 29_999)).toBe(0);
    expect(timeStep({ t0: 0, period: 30 }, 30_000)).toBe(1);
    expect(timeStep({ t0: 0, period: 60 }, 119_999)).toBe(1);
    expect(timeStep({ t0: 15, period: 30 }, 44_999)).toBe(0);
    expect(timeStep({ t0: 15, period: 30 }, 45_000)).toBe(1);
  });
});

describe('verifyCode (TOTP)', () => {
  const base = totp();
  const raw = timeStep(base, NOW);
  const at = (k: number) => codeAt(base, raw + k);

  it('has distinct codes for the steps these tests use (no accidental collision)', () => {
    const codes = [-4, -3, -2, -1, 0, 1, 2, 3, 4, 5].map(at);
    expect(new Set(codes).size).toBe(codes.length);
  });

  it('window 1/1 accepts -1, 0, +1 and rejects -2, +2', () => {
    expect(verifyCode(base, at(-1), NOW, W)).toEqual({ result: 'match', step: raw - 1, drift: -1 });
    expect(verifyCode(base, at(0), NOW, W)).toEqual({ result: 'match', step: raw, drift: 0 });
    expect(verifyCode(base, at(1), NOW, W)).toEqual({ result: 'match', step: raw + 1, drift: 1 });
    expect(verifyCode(base, at(-2), NOW, W)).toEqual({ result: 'no-match' });
    expect(verifyCode(base, at(2), NOW, W)).toEqual({ result: 'no-match' });
  });

  it('asymmetric windows: 2 past / 0 future, and 0 past / 3 future', () => {
    const past = totp({ windowPast: 2, windowFuture: 0 });
    expect(verifyCode(past, at(-2), NOW, W)).toMatchObject({ result: 'match', step: raw - 2 });
    expect(verifyCode(past, at(-1), NOW, W)).toMatchObject({ result: 'match', step: raw - 1 });
    expect(verifyCode(past, at(-3), NOW, W)).toEqual({ result: 'no-match' });
    expect(verifyCode(past, at(1), NOW, W)).toEqual({ result: 'no-match' });

    const future = totp({ windowPast: 0, windowFuture: 3 });
    expect(verifyCode(future, at(3), NOW, W)).toEqual({ result: 'match', step: raw + 3, drift: 3 });
    expect(verifyCode(future, at(4), NOW, W)).toEqual({ result: 'no-match' });
    expect(verifyCode(future, at(-1), NOW, W)).toEqual({ result: 'no-match' });
  });

  it('windows are per token: the same code is refused by a 0/0 token and accepted by a 2/2 token', () => {
    const strict = totp({ id: 1, windowPast: 0, windowFuture: 0 });
    const lenient = totp({ id: 2, windowPast: 2, windowFuture: 2 });
    expect(verifyCode(strict, at(0), NOW, W).result).toBe('match');
    expect(verifyCode(strict, at(-1), NOW, W).result).toBe('no-match');
    expect(verifyCode(strict, at(1), NOW, W).result).toBe('no-match');
    expect(verifyCode(lenient, at(-2), NOW, W).result).toBe('match');
    expect(verifyCode(lenient, at(2), NOW, W).result).toBe('match');
  });

  it('a step at or before the last accepted one is a replay; a later step still matches', () => {
    const used = totp({ lastStep: raw });
    expect(verifyCode(used, at(0), NOW, W)).toEqual({ result: 'replay', step: raw });
    expect(verifyCode(used, at(-1), NOW, W)).toEqual({ result: 'replay', step: raw - 1 });
    expect(verifyCode(used, at(1), NOW, W)).toEqual({ result: 'match', step: raw + 1, drift: 1 });
    // a used step outside the window is simply not a match
    expect(verifyCode(used, at(-2), NOW, W)).toEqual({ result: 'no-match' });
    const earlier = totp({ lastStep: raw - 1 });
    expect(verifyCode(earlier, at(0), NOW, W)).toEqual({ result: 'match', step: raw, drift: 0 });
    expect(verifyCode(earlier, at(-1), NOW, W)).toEqual({ result: 'replay', step: raw - 1 });
  });

  it('centres the window on the learned drift and reports the drift of the matched step', () => {
    const ahead = totp({ drift: 3 });
    expect(verifyCode(ahead, at(3), NOW, W)).toEqual({ result: 'match', step: raw + 3, drift: 3 });
    expect(verifyCode(ahead, at(4), NOW, W)).toEqual({ result: 'match', step: raw + 4, drift: 4 });
    expect(verifyCode(ahead, at(2), NOW, W)).toEqual({ result: 'match', step: raw + 2, drift: 2 });
    expect(verifyCode(ahead, at(1), NOW, W)).toEqual({ result: 'no-match' });
    expect(verifyCode(ahead, at(0), NOW, W)).toEqual({ result: 'no-match' });
    const behind = totp({ drift: -3 });
    expect(verifyCode(behind, at(-4), NOW, W)).toEqual({ result: 'match', step: raw - 4, drift: -4 });
    expect(verifyCode(behind, at(0), NOW, W)).toEqual({ result: 'no-match' });
  });

  it('refuses codes of the wrong length or with non-digits', () => {
    const code = at(0);
    expect(verifyCode(base, code.slice(1), NOW, W)).toEqual({ result: 'no-match' });
    expect(verifyCode(base, `${code}0`, NOW, W)).toEqual({ result: 'no-match' });
    expect(verifyCode(base, ` ${code.slice(1)}`, NOW, W)).toEqual({ result: 'no-match' });
    expect(verifyCode(base, '12345a', NOW, W)).toEqual({ result: 'no-match' });
    expect(verifyCode(totp({ digits: 8 }), code, NOW, W)).toEqual({ result: 'no-match' });
  });
});

describe('verifyCode (HOTP)', () => {
  // Appendix D codes by counter
  const D = ['755224', '287082', '359152', '969429', '338314', '254676', '287922', '162583', '399871', '520489'] as const;
  const win = { hotpWindow: 3 };

  it('looks ahead hotpWindow counters from the first unused one', () => {
    const fresh = hotp();
    expect(verifyCode(fresh, D[0], NOW, win)).toEqual({ result: 'match', step: 0, drift: 0 });
    expect(verifyCode(fresh, D[2], NOW, win)).toEqual({ result: 'match', step: 2, drift: 0 });
    expect(verifyCode(fresh, D[3], NOW, win)).toEqual({ result: 'no-match' });
    const used = hotp({ lastStep: 4 });
    expect(verifyCode(used, D[5], NOW, win)).toEqual({ result: 'match', step: 5, drift: 0 });
    expect(verifyCode(used, D[7], NOW, win)).toEqual({ result: 'match', step: 7, drift: 0 });
    expect(verifyCode(used, D[8], NOW, win)).toEqual({ result: 'no-match' });
  });

  it('a used counter is a replay', () => {
    const used = hotp({ lastStep: 4 });
    expect(verifyCode(used, D[4], NOW, win)).toEqual({ result: 'replay', step: 4 });
    expect(verifyCode(used, D[1], NOW, win)).toEqual({ result: 'replay', step: 1 });
  });

  it('starts at the token counter', () => {
    const issued = hotp({ counter: 5 });
    expect(verifyCode(issued, D[5], NOW, win)).toEqual({ result: 'match', step: 5, drift: 0 });
    expect(verifyCode(issued, D[4], NOW, win)).toEqual({ result: 'no-match' });
  });
});

describe('findConsecutive (resync)', () => {
  const base = totp({ windowPast: 0, windowFuture: 0 });
  const raw = timeStep(base, NOW);
  const at = (k: number) => codeAt(base, raw + k);

  it('TOTP: finds two consecutive codes ahead of or behind the clock and reports the drift', () => {
    expect(findConsecutive(base, at(6), at(7), NOW, 10)).toEqual({ step: raw + 7, drift: 7 });
    expect(findConsecutive(base, at(-5), at(-4), NOW, 10)).toEqual({ step: raw - 4, drift: -4 });
    expect(findConsecutive(base, at(9), at(10), NOW, 10)).toEqual({ step: raw + 10, drift: 10 });
  });

  it('TOTP: refuses codes outside the search window, not consecutive, in the wrong order or already used', () => {
    expect(findConsecutive(base, at(11), at(12), NOW, 10)).toBeUndefined();
    expect(findConsecutive(base, at(6), at(8), NOW, 10)).toBeUndefined();
    expect(findConsecutive(base, at(7), at(6), NOW, 10)).toBeUndefined();
    const used = totp({ lastStep: raw + 6 });
    expect(findConsecutive(used, at(6), at(7), NOW, 10)).toBeUndefined();
    expect(findConsecutive(used, at(7), at(8), NOW, 10)).toEqual({ step: raw + 8, drift: 8 });
  });

  it('TOTP: after a resync, the next code verifies with a narrow window and the second code is used', () => {
    const found = findConsecutive(base, at(6), at(7), NOW, 10)!;
    const synced = totp({ lastStep: found.step, drift: found.drift });
    expect(verifyCode(synced, at(8), NOW, W)).toEqual({ result: 'match', step: raw + 8, drift: 8 });
    expect(verifyCode(synced, at(7), NOW, W)).toEqual({ result: 'replay', step: raw + 7 });
  });

  it('HOTP: finds consecutive counters within the window past the last used one', () => {
    const token = hotp();
    expect(findConsecutive(token, '969429', '338314', NOW, 10)).toEqual({ step: 4, drift: 0 });
    expect(findConsecutive(token, codeAt(token, 40), codeAt(token, 41), NOW, 100)).toEqual({ step: 41, drift: 0 });
    expect(findConsecutive(token, codeAt(token, 150), codeAt(token, 151), NOW, 100)).toBeUndefined();
    expect(findConsecutive(hotp({ lastStep: 3 }), '969429', '338314', NOW, 10)).toBeUndefined();
    expect(verifyCode(hotp({ lastStep: 4 }), '254676', NOW, { hotpWindow: 1 })).toEqual({ result: 'match', step: 5, drift: 0 });
  });
});

describe('parseSecret', () => {
  const seed = Buffer.from(SEED);

  it('reads base32 with spaces, dashes, lower case and padding', () => {
    expect(parseSecret('GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ', 128)).toEqual(seed);
    expect(parseSecret('gezd gnbv gy3t qojq gezd gnbv gy3t qojq', 128)).toEqual(seed);
    expect(parseSecret('GEZD-GNBV-GY3T-QOJQ-GEZD-GNBV-GY3T-QOJQ', 128)).toEqual(seed);
    expect(parseSecret('  gezdgnbvgy3tqojqgezdgnbvgy======\n', 128)).toEqual(Buffer.from('1234567890123456'));
  });

  it('reads hex with and without "hex:" / "0x"', () => {
    const hex = seed.toString('hex');
    expect(parseSecret(hex, 128)).toEqual(seed);
    expect(parseSecret(hex.toUpperCase(), 128)).toEqual(seed);
    expect(parseSecret(`hex:${hex}`, 128)).toEqual(seed);
    expect(parseSecret(`HEX:${hex}`, 128)).toEqual(seed);
    expect(parseSecret(`0x${hex}`, 128)).toEqual(seed);
    expect(parseSecret(hex.replace(/(.{8})/g, '$1 '), 128)).toEqual(seed);
  });

  it('"hex:" forces hex for a string that would also be base32', () => {
    const ambiguous = 'abcdef2345672345abcdef2345672345';
    expect(parseSecret(`hex:${ambiguous}`, 128)).toEqual(Buffer.from(ambiguous, 'hex'));
    expect(parseSecret(ambiguous, 128)).toHaveLength(20); // read as base32: 32 characters, 160 bits
  });

  it('refuses secrets under the minimum with a message saying how long they are', () => {
    const short = () => parseSecret(`hex:${'31'.repeat(15)}`, 128);
    expect(short).toThrow(InvalidInputError);
    expect(short).toThrow('secret: is 120 bits; at least 128 are required');
    expect(() => parseSecret('GEZDGNBVGY3TQOJQ', 128)).toThrow('is 80 bits; at least 128 are required');
    expect(() => parseSecret(`hex:${'31'.repeat(16)}`, 160)).toThrow('is 128 bits; at least 160 are required');
    expect(() => parseSecret('x', 128, 'seed')).toThrow(/^seed: /);
  });

  it('refuses garbage', () => {
    for (const garbage of ['', '   ', 'not a secret!', 'GEZDGNBV#GY3TQOJQ', 'é'.repeat(32), 'GEZD=GNBV']) {
      expect(() => parseSecret(garbage, 128), JSON.stringify(garbage)).toThrow(/is neither base32 \(A-Z, 2-7\) nor hex/);
    }
    expect(() => parseSecret('hex:313', 128)).toThrow('hex secret must have an even number of 0-9a-f digits');
    expect(() => parseSecret('0xzz', 128)).toThrow('hex secret must have an even number of 0-9a-f digits');
    expect(() => parseSecret('hex:', 128)).toThrow(InvalidInputError);
  });
});

describe('secrets and provisioning URIs', () => {
  it('base32 round-trips and generated secrets have the hash size', () => {
    const key = Buffer.from('00ff10ee20dd30cc40bb50aa60997088', 'hex');
    expect(fromBase32(toBase32(key))).toEqual(key);
    expect(toBase32(Buffer.from(SEED))).toBe('GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ');
    expect(generateSecret('SHA1')).toHaveLength(20);
    expect(generateSecret('SHA256')).toHaveLength(32);
    expect(generateSecret('SHA512')).toHaveLength(64);
    expect(generateSecret('SHA1')).not.toEqual(generateSecret('SHA1'));
  });

  it('TOTP URI: parses back to the same key and parameters, and an app reading it shows our codes', () => {
    const key = Buffer.from(SEED.repeat(2).slice(0, 32));
    const uri = provisioningUri({ kind: 'totp', issuer: 'ACME Corp', account: 'alice@example.com', key, algorithm: 'SHA256', digits: 8, period: 60, counter: 0 });
    const url = new URL(uri);
    expect(url.protocol).toBe('otpauth:');
    expect(url.host).toBe('totp');
    expect(decodeURIComponent(url.pathname)).toBe('/ACME Corp:alice@example.com');
    const p = url.searchParams;
    expect(p.get('issuer')).toBe('ACME Corp');
    expect(p.get('algorithm')).toBe('SHA256');
    expect(p.get('digits')).toBe('8');
    expect(p.get('period')).toBe('60');
    expect(p.has('counter')).toBe(false);
    const parsedKey = fromBase32(p.get('secret')!);
    expect(parsedKey).toEqual(key);
    const step = timeStep({ t0: 0, period: Number(p.get('period')) as 60 }, NOW);
    const app = { key: parsedKey, algorithm: p.get('algorithm') as 'SHA256', digits: Number(p.get('digits')) as 8 };
    const token = totp({ key, algorithm: 'SHA256', digits: 8, period: 60 });
    expect(verifyCode(token, codeAt(app, step), NOW, W)).toEqual({ result: 'match', step, drift: 0 });
  });

  it('HOTP URI: carries the counter, no period', () => {
    const uri = provisioningUri({ kind: 'hotp', issuer: 'otpgate', account: 'bob', key: RFC_KEY, algorithm: 'SHA1', digits: 6, period: 30, counter: 42 });
    const url = new URL(uri);
    expect(url.host).toBe('hotp');
    expect(decodeURIComponent(url.pathname)).toBe('/otpgate:bob');
    expect(url.searchParams.get('counter')).toBe('42');
    expect(url.searchParams.has('period')).toBe(false);
    expect(fromBase32(url.searchParams.get('secret')!)).toEqual(RFC_KEY);
  });
});
