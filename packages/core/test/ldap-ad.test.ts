import { describe, expect, it } from 'vitest';
import { FilterParser } from 'ldapts';
import { AD_BIND_SUBCODES, UAC, UAC_COMPUTED, adAccountState, adBindSubCode, mapAdBindFailure, nestedGroupFilter, parseFlags } from '../src/backends/ldap/ldap-ad.js';

/** Diagnostic messages as Active Directory sends them with result 49 (Windows Server 2008 R2 .. 2022: v1db1 .. v4563). */
const AD = (data: string, version = 'v4563') =>
  `80090308: LdapErr: DSID-0C09044E, comment: AcceptSecurityContext error, data ${data}, ${version}\u0000`;

describe('AD bind error 49 sub-codes', () => {
  it('reads the sub-code from the diagnostic message exactly as AD words it', () => {
    expect(adBindSubCode('80090308: LdapErr: DSID-0C09044E, comment: AcceptSecurityContext error, data 52e, v4563')).toBe('52e');
    expect(adBindSubCode('80090308: LdapErr: DSID-0C0903A9, comment: AcceptSecurityContext error, data 525, v1db1\u0000')).toBe('525');
    expect(adBindSubCode('80090308: LdapErr: DSID-0C09042F, comment: AcceptSecurityContext error, data 775, v2580')).toBe('775');
    expect(adBindSubCode('8009030C: LdapErr: DSID-0C0906B5, comment: AcceptSecurityContext error, data 52E, v3839')).toBe('52e');
    expect(adBindSubCode('Invalid credentials')).toBeNull();
    expect(adBindSubCode('')).toBeNull();
  });

  it.each([
    ['525', 'unknown-user'],
    ['52e', 'bad-password'],
    ['530', 'not-permitted'],
    ['531', 'not-permitted'],
    ['532', 'password-expired'],
    ['533', 'disabled'],
    ['701', 'account-expired'],
    ['773', 'must-change-password'],
    ['775', 'locked'],
  ])('data %s -> %s', (data, reason) => {
    const mapped = mapAdBindFailure(AD(data));
    expect(mapped.reason).toBe(reason);
    expect(mapped.detail).toContain(`data ${data}`);
  });

  it('covers exactly the table in the reference', () => {
    expect(Object.keys(AD_BIND_SUBCODES).sort()).toEqual(['525', '52e', '530', '531', '532', '533', '701', '773', '775']);
  });

  it('an unknown or missing sub-code is a wrong password, the only safe reading of invalidCredentials', () => {
    expect(mapAdBindFailure(AD('52f'))).toEqual({ reason: 'bad-password', detail: 'Active Directory: invalid credentials (unrecognised data 52f)' });
    expect(mapAdBindFailure('')).toEqual({ reason: 'bad-password', detail: 'Active Directory: invalid credentials' });
  });

  it('older servers (2003: v893) and other DSIDs map the same way', () => {
    expect(mapAdBindFailure('80090308: LdapErr: DSID-0C090334, comment: AcceptSecurityContext error, data 533, v893').reason).toBe('disabled');
    expect(mapAdBindFailure(AD('773', 'v2580')).reason).toBe('must-change-password');
  });
});

describe('userAccountControl and msDS-User-Account-Control-Computed', () => {
  it('parses the decimal strings AD returns, as unsigned 32-bit flags', () => {
    expect(parseFlags('512')).toBe(0x200);
    expect(parseFlags(' 66048 ')).toBe(0x10200);
    expect(parseFlags('8388608')).toBe(UAC_COMPUTED.PASSWORD_EXPIRED);
    expect(parseFlags('-2147483136')).toBe(0x80000200); // a signed rendering of a high bit
    expect(parseFlags(undefined)).toBeNull();
    expect(parseFlags('')).toBeNull();
    expect(parseFlags('0x200')).toBeNull();
  });

  it('disabled (0x2), locked (computed 0x10), password expired (computed 0x800000)', () => {
    expect(adAccountState(0x200, 0)).toBe('ok');
    expect(adAccountState(0x202, 0)).toBe('disabled');
    expect(adAccountState(0x200, 0x10)).toBe('locked');
    expect(adAccountState(0x200, 0x800000)).toBe('password-expired');
    // lockout in userAccountControl itself (0x10) is not kept current by AD: only the computed attribute counts
    expect(adAccountState(0x210, 0)).toBe('ok');
  });

  it('disabled wins over locked over expired', () => {
    expect(adAccountState(0x202, 0x10 | 0x800000)).toBe('disabled');
    expect(adAccountState(0x200, 0x10 | 0x800000)).toBe('locked');
  });

  it('DONT_EXPIRE_PASSWORD (0x10000) overrides an expiry bit; missing attributes mean no known problem', () => {
    expect(adAccountState(UAC.NORMAL_ACCOUNT | UAC.DONT_EXPIRE_PASSWORD, UAC_COMPUTED.PASSWORD_EXPIRED)).toBe('ok');
    expect(adAccountState(null, null)).toBe('ok');
    expect(adAccountState(null, 0x10)).toBe('locked');
    expect(adAccountState(0x202, null)).toBe('disabled');
  });
});

describe('nested groups (LDAP_MATCHING_RULE_IN_CHAIN)', () => {
  it('builds a filter with the in-chain rule and the escaped user DN', () => {
    const f = nestedGroupFilter('CN=Bob (IT)*,OU=Staff,DC=corp,DC=example');
    expect(f).toBe('(&(objectClass=group)(member:1.2.840.113556.1.4.1941:=CN=Bob \\28IT\\29\\2a,OU=Staff,DC=corp,DC=example))');
    // and ldapts parses it back into an extensible match with the value intact
    const parsed = FilterParser.parseString(f) as unknown as { filters: Array<{ rule?: string; value?: string }> };
    expect(parsed.filters[1]).toMatchObject({ rule: '1.2.840.113556.1.4.1941', value: 'CN=Bob (IT)*,OU=Staff,DC=corp,DC=example' });
  });
});
