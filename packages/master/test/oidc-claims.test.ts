import { describe, expect, it } from 'vitest';
import type { OidcProviderConfig } from '@otpgate/shared';
import { groupRefusal, identitySubject, matchedName, readClaims } from '../src/portal/oidc-claims.js';

const TID = '9188040d-6c67-4c5b-b112-36a304b66dad';
const provider: OidcProviderConfig = {
  name: 'entra',
  label: 'Entra ID',
  issuer: `https://login.microsoftonline.com/${TID}/v2.0`,
  client_id: 'app',
  client_secret: 's',
  scopes: ['openid'],
  match_claim: 'preferred_username',
  groups_claim: 'groups',
  mfa: false,
};

describe('reading an ID token for the portal', () => {
  it('identifies an Entra user by tid + oid (sub differs per app), and others by sub', () => {
    expect(identitySubject({ sub: 'pairwise', tid: TID, oid: 'oid-1' })).toBe(`${TID}/oid-1`);
    expect(identitySubject({ sub: 'kc-user-1' })).toBe('sub:kc-user-1');
    expect(identitySubject({ sub: 'x', tid: TID })).toBe('sub:x');
    expect(identitySubject({ tid: 7, oid: 'o' })).toBeUndefined();
  });

  it('takes the user name from the configured claim only, and refuses an unverified email address', () => {
    const claims = { preferred_username: 'alice@contoso.com', upn: 'alice.smith@contoso.com', email: 'a@example.org' };
    expect(matchedName(claims, provider)).toEqual({ name: 'alice@contoso.com' });
    expect(matchedName(claims, { match_claim: 'upn' })).toEqual({ name: 'alice.smith@contoso.com' });
    expect(matchedName({ upn: 'x' }, provider)).toEqual({ problem: 'the token has no preferred_username claim' });
    expect(matchedName({ preferred_username: 'two words' }, provider)).toMatchObject({ problem: expect.stringContaining('not a usable') });
    expect(matchedName({ preferred_username: ['alice'] }, provider)).toMatchObject({ problem: expect.stringContaining('not a usable') });
    expect(matchedName({ preferred_username: 'a'.repeat(254) }, provider)).toMatchObject({ problem: expect.stringContaining('not a usable') });
    expect(matchedName({ email: 'a@example.org', email_verified: false }, { match_claim: 'email' })).toMatchObject({ problem: expect.stringContaining('not verified') });
    expect(matchedName({ email: 'a@example.org', email_verified: true }, { match_claim: 'email' })).toEqual({ name: 'a@example.org' });
  });

  it('restricts to a group by the groups claim or an app role, and explains an Entra group overage', () => {
    const restricted = { ...provider, group: 'VPN-Users' };
    expect(groupRefusal({}, provider)).toBeUndefined();
    expect(groupRefusal({ groups: ['sales', 'vpn-users'] }, restricted)).toBeUndefined();
    expect(groupRefusal({ roles: ['VPN-Users'] }, restricted)).toBeUndefined();
    expect(groupRefusal({ grp: ['VPN-Users'] }, { ...restricted, groups_claim: 'grp' })).toBeUndefined();
    expect(groupRefusal({ groups: ['sales'] }, restricted)).toBe('not in the group "VPN-Users"');
    expect(groupRefusal({ groups: 'VPN-Users' }, restricted)).toBe('not in the group "VPN-Users"');
    const overage = { _claim_names: { groups: 'src1' }, _claim_sources: { src1: { endpoint: 'https://graph.microsoft.com/v1.0/users/x/getMemberObjects' } } };
    expect(groupRefusal(overage, restricted)).toMatch(/too many groups .* app role "VPN-Users"/);
    expect(groupRefusal({ ...overage, roles: ['VPN-Users'] }, restricted)).toBeUndefined();
  });

  it('puts it together: a restricted or anonymous token is refused, a token without the name claim may still sign in a linked identity', () => {
    expect(readClaims({ tid: TID, oid: 'o', preferred_username: 'alice' }, provider)).toEqual({ ok: true, subject: `${TID}/o`, name: 'alice' });
    expect(readClaims({ preferred_username: 'alice' }, provider)).toMatchObject({ ok: false, reason: 'the token names no subject', name: 'alice' });
    expect(readClaims({ sub: 's', preferred_username: 'bob', groups: [] }, { ...provider, group: 'vpn' })).toMatchObject({ ok: false, name: 'bob' });
    expect(readClaims({ sub: 's' }, provider)).toEqual({ ok: true, subject: 'sub:s', nameProblem: 'the token has no preferred_username claim' });
  });
});
