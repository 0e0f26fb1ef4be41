import { describe, expect, it } from 'vitest';
import { backendSchema, defaultUserFilter, ldapBackendSchema } from '@otpgate/shared';

const base = { type: 'ldap', name: 'dir', servers: ['ldap://dc1.example.com'] } as const;
const AD_FILTER = '(&(objectClass=user)(|(sAMAccountName={user})(userPrincipalName={user})))';
const LDAP_FILTER = '(&(objectClass=inetOrgPerson)(uid={user}))';

describe('LDAP backend user filter default', () => {
  it('is inetOrgPerson/uid for a plain directory and sAMAccountName or UPN for Active Directory', () => {
    expect(defaultUserFilter(false)).toBe(LDAP_FILTER);
    expect(defaultUserFilter(true)).toBe(AD_FILTER);
    expect(ldapBackendSchema.parse(base).user_filter).toBe(LDAP_FILTER);
    expect(ldapBackendSchema.parse({ ...base, active_directory: true }).user_filter).toBe(AD_FILTER);
  });

  it('applies through the backend union as well, and never replaces a filter that was given', () => {
    expect(backendSchema.parse({ ...base, active_directory: true })).toMatchObject({ type: 'ldap', user_filter: AD_FILTER });
    expect(backendSchema.parse({ ...base, active_directory: true, user_filter: '(cn={user})' })).toMatchObject({ user_filter: '(cn={user})' });
  });
});
