import { describe, expect, it } from 'vitest';
import { codeAt } from '@otpgate/core';

describe('source resolution', () => {
  it('imports core from its TypeScript sources', () => {
    expect(codeAt({ key: Buffer.from('12345678901234567890'), algorithm: 'SHA1', digits: 6 }, 0)).toBe('755224');
  });
});
