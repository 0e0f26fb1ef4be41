import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CLI_ACTOR, OIDC_SUBJECT_MAX } from '@otpgate/core';
import { createFixture, type Fixture } from './store-fixture.js';

let f: Fixture;
let alice: number;
let bob: number;
beforeEach(async () => {
  f = await createFixture();
  alice = (await f.services.users.add({ username: 'alice' }, CLI_ACTOR)).id;
  bob = (await f.services.users.add({ username: 'bob' }, CLI_ACTOR)).id;
});
afterEach(() => f.close());

const TENANT = '9188040d-6c67-4c5b-b112-36a304b66dad';
const identity = (oid: string) => `${TENANT}/${oid}`;

describe('identities at OpenID Connect providers', () => {
  it('links an identity to the user its name matched, and from then on signs it in as that user whatever its name', () => {
    expect(f.services.oidcIdentities.signIn('entra', identity('oid-a'), alice, 1000)).toEqual({ ok: true, userId: alice, linked: 'now' });
    // renamed at the provider: the name now matches bob, or no one; the identity still signs in as alice
    expect(f.services.oidcIdentities.signIn('entra', identity('oid-a'), bob, 2000)).toEqual({ ok: true, userId: alice, linked: 'before' });
    expect(f.services.oidcIdentities.signIn('entra', identity('oid-a'), undefined, 3000)).toEqual({ ok: true, userId: alice, linked: 'before' });
  });

  it('never links a second identity of one provider to a linked user (a name given to someone else)', () => {
    f.services.oidcIdentities.signIn('entra', identity('oid-a'), alice);
    expect(f.services.oidcIdentities.signIn('entra', identity('oid-new-person'), alice)).toMatchObject({ ok: false, reason: expect.stringContaining('another identity') });
    // another provider is another namespace
    expect(f.services.oidcIdentities.signIn('keycloak', 'sub:oid-new-person', alice)).toMatchObject({ ok: true, userId: alice });
  });

  it('refuses an unmatched, unlinked identity and an oversized id; a link goes with its user', () => {
    expect(f.services.oidcIdentities.signIn('entra', identity('oid-x'), undefined)).toMatchObject({ ok: false });
    expect(f.services.oidcIdentities.signIn('entra', 'x'.repeat(OIDC_SUBJECT_MAX + 1), alice)).toMatchObject({ ok: false });
    expect(f.services.oidcIdentities.signIn('entra', '', alice)).toMatchObject({ ok: false });
    f.services.oidcIdentities.signIn('entra', identity('oid-b'), bob);
    f.services.users.remove('bob', CLI_ACTOR);
    expect(f.services.oidcIdentities.signIn('entra', identity('oid-b'), undefined)).toMatchObject({ ok: false });
  });

  it('an admin lists the links and removes one: the next identity of that name is linked instead', () => {
    f.services.oidcIdentities.signIn('entra', identity('oid-a'), alice, 1000);
    f.services.oidcIdentities.signIn('keycloak', 'sub:a', alice, 2000);
    f.services.oidcIdentities.signIn('entra', identity('oid-b'), bob, 3000);
    expect(f.services.oidcIdentities.list('alice').map((l) => [l.username, l.provider, l.subject])).toEqual([
      ['alice', 'entra', identity('oid-a')],
      ['alice', 'keycloak', 'sub:a'],
    ]);
    expect(f.services.oidcIdentities.list()).toHaveLength(3);
    f.services.oidcIdentities.unlink('alice', 'entra', CLI_ACTOR);
    expect(() => f.services.oidcIdentities.unlink('alice', 'entra', CLI_ACTOR)).toThrow(/does not exist/);
    expect(f.services.oidcIdentities.signIn('entra', identity('oid-a-recreated'), alice)).toMatchObject({ ok: true, userId: alice, linked: 'now' });
  });
});
