import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CLI_ACTOR, MAX_PASSKEYS_PER_USER } from '@otpgate/core';
import { createFixture, type Fixture } from './store-fixture.js';

let f: Fixture;
beforeEach(async () => {
  f = await createFixture();
  await f.services.users.add({ username: 'alice' }, CLI_ACTOR);
  await f.services.users.add({ username: 'bob' }, CLI_ACTOR);
});
afterEach(() => f.close());

const passkey = (n: number, username = 'alice') => ({
  id: Buffer.from(`credential-${username}-${n}`).toString('base64url'),
  user_id: f.services.users.get(username).id,
  public_key: 'cHVibGljLWtleQ',
  counter: 0,
  transports: [],
  passwordless: true,
  label: `key ${n}`,
  created_at: 1_800_000_000_000 + n,
  last_used_at: null,
});

describe('passkeys in the store', () => {
  it('a credential is registered once, to one user, and a user holds a bounded number', () => {
    f.services.passkeys.add(passkey(0), CLI_ACTOR);
    expect(() => f.services.passkeys.add({ ...passkey(0), user_id: f.services.users.get('bob').id }, CLI_ACTOR)).toThrow(/registered already/);
    for (let n = 1; n < MAX_PASSKEYS_PER_USER; n++) f.services.passkeys.add(passkey(n), CLI_ACTOR);
    expect(() => f.services.passkeys.add(passkey(99), CLI_ACTOR)).toThrow(/remove one first/);
    expect(f.services.passkeys.list('alice')).toHaveLength(MAX_PASSKEYS_PER_USER);
    expect(f.services.passkeys.list()).toHaveLength(MAX_PASSKEYS_PER_USER);
  });

  it('refuses a malformed record, naming the field', () => {
    expect(() => f.services.passkeys.add({ ...passkey(0), id: 'not base64url!' }, CLI_ACTOR)).toThrow(/id/);
  });

  it('the counter only moves forward', () => {
    f.services.passkeys.add(passkey(0), CLI_ACTOR);
    f.services.passkeys.recordUse(passkey(0).id, 9, 1000);
    f.services.passkeys.recordUse(passkey(0).id, 3, 2000);
    expect(f.services.passkeys.find(passkey(0).id)).toMatchObject({ counter: 9, last_used_at: 2000 });
  });

  it("an admin removes one user's passkey, not another's; the user's removal takes them all", async () => {
    f.services.passkeys.add(passkey(0), CLI_ACTOR);
    f.services.passkeys.add(passkey(0, 'bob'), CLI_ACTOR);
    expect(() => f.services.passkeys.remove('alice', passkey(0, 'bob').id, CLI_ACTOR)).toThrow(/does not exist/);
    f.services.passkeys.remove('bob', passkey(0, 'bob').id, CLI_ACTOR);
    f.services.users.remove('alice', CLI_ACTOR);
    expect(f.services.passkeys.list()).toEqual([]);
  });
});
