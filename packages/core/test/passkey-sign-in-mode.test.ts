import { describe, expect, it } from 'vitest';
import { settingsSchema } from '@otpgate/shared';
import { passkeySignInMode } from '@otpgate/core';

const settings = settingsSchema.parse({
  passkeys: { passwordless: { users: ['Alice'], groups: ['staff'] }, second_factor: { users: [], groups: ['Admins'] } },
});

describe('passkey sign-in mode per user or group', () => {
  it('is either way for users in no list, and the listed way for users or members of listed groups', () => {
    expect(passkeySignInMode({ username: 'bob', groups: [] }, settingsSchema.parse({}))).toBe('either');
    expect(passkeySignInMode({ username: 'bob', groups: ['sales'] }, settings)).toBe('either');
    expect(passkeySignInMode({ username: 'alice', groups: [] }, settings)).toBe('passwordless');
    expect(passkeySignInMode({ username: 'carol', groups: ['STAFF'] }, settings)).toBe('passwordless');
    expect(passkeySignInMode({ username: 'dave', groups: ['admins'] }, settings)).toBe('second-factor');
  });

  it('takes the second-factor way for a user in both lists (the password is asked too)', () => {
    expect(passkeySignInMode({ username: 'alice', groups: ['admins'] }, settings)).toBe('second-factor');
  });
});
