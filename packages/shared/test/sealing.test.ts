import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SEAL_KEY_BYTES, SealError, seal, unseal } from '@otpgate/shared';

const key = randomBytes(SEAL_KEY_BYTES);

function sealError(fn: () => unknown): SealError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(SealError);
    return err as SealError;
  }
  throw new Error('did not throw');
}

describe('seal / unseal', () => {
  it('round-trips text and bytes, empty and large', () => {
    for (const value of ['GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ', '', 'ünïcødé 🙂', 'x'.repeat(100_000)]) {
      expect(unseal(key, seal(key, value, 'token-secret'), 'token-secret').toString()).toBe(value);
    }
    const bytes = randomBytes(64);
    expect(unseal(key, seal(key, bytes, 'client-secret'), 'client-secret')).toEqual(bytes);
  });

  it('is "v1." + base64url, never the plaintext, different every time', () => {
    const a = seal(key, 'the-secret', 'token-secret');
    const b = seal(key, 'the-secret', 'token-secret');
    expect(a).toMatch(/^v1\.[A-Za-z0-9_-]+$/);
    expect(a).not.toBe(b);
    expect(a).not.toContain('the-secret');
    expect(Buffer.from(a.slice(3), 'base64url')).toHaveLength(12 + 'the-secret'.length + 16);
  });

  it('never uses an IV twice, across the IV pool refills', () => {
    const ivs = new Set<string>();
    for (let i = 0; i < 5000; i++) {
      const sealed = seal(key, 'the-secret', 'token-secret');
      ivs.add(Buffer.from(sealed.slice(3), 'base64url').subarray(0, 12).toString('hex'));
      if (i % 997 === 0) expect(unseal(key, sealed, 'token-secret').toString()).toBe('the-secret');
    }
    expect(ivs.size).toBe(5000);
  });

  it('refuses another key', () => {
    const sealed = seal(key, 'the-secret', 'token-secret');
    const err = sealError(() => unseal(randomBytes(32), sealed, 'token-secret'));
    expect(err.message).toBe('cannot decrypt a token-secret: the key file does not match this database, or the value is damaged');
    expect(err.code).toBe('seal');
  });

  it('refuses another context: a sealed value copied into another kind of field does not open', () => {
    const sealed = seal(key, 'the-secret', 'token-secret');
    expect(sealError(() => unseal(key, sealed, 'client-secret')).message).toContain('cannot decrypt a client-secret');
    expect(sealError(() => unseal(key, sealed, 'token-secret ')).message).toContain('cannot decrypt');
  });

  it('refuses damaged, truncated or foreign values', () => {
    const sealed = seal(key, 'the-secret', 'token-secret');
    const raw = Buffer.from(sealed.slice(3), 'base64url');
    for (let i = 0; i < raw.length; i++) {
      const damaged = Buffer.from(raw);
      damaged[i]! ^= 0x01;
      sealError(() => unseal(key, `v1.${damaged.toString('base64url')}`, 'token-secret'));
    }
    expect(sealError(() => unseal(key, `v1.${raw.subarray(0, 27).toString('base64url')}`, 'token-secret')).message).toBe('sealed value is truncated');
    expect(sealError(() => unseal(key, 'GEZDGNBVGY3TQOJQ', 'token-secret')).message).toBe('not a sealed value (expected "v1.…")');
    expect(sealError(() => unseal(key, `v2.${raw.toString('base64url')}`, 'token-secret')).message).toMatch(/^not a sealed value/);
  });
});
