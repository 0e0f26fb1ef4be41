import { describe, expect, it } from 'vitest';
import { counterWentBack, userHandle, userIdOfHandle } from '../src/portal/webauthn.js';

describe('passkey sign-in checks', () => {
  it('a signature counter must move forward where either side keeps one; two zeros mean the authenticator keeps none', () => {
    expect(counterWentBack(0, 0)).toBe(false);
    expect(counterWentBack(0, 1)).toBe(false);
    expect(counterWentBack(5, 6)).toBe(false);
    expect(counterWentBack(5, 5)).toBe(true);
    expect(counterWentBack(5, 4)).toBe(true);
    expect(counterWentBack(5, 0)).toBe(true);
  });

  it('a user handle is the user id, and only a plain id is read back', () => {
    expect(userIdOfHandle(Buffer.from(userHandle(42)).toString('base64url'))).toBe(42);
    for (const bad of [undefined, '', Buffer.from('042').toString('base64url'), Buffer.from('alice').toString('base64url'), Buffer.from('1'.repeat(17)).toString('base64url')]) {
      expect(userIdOfHandle(bad)).toBeUndefined();
    }
  });
});
