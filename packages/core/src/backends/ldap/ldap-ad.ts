/** Active Directory specifics, as pure functions: the backend feeds them what the directory answered. */
import type { RejectReason } from '@otpgate/shared';
import { escapeFilterValue } from './ldap-filter.js';

/** userAccountControl bits (MS-ADTS 2.2.16). */
export const UAC = {
  ACCOUNTDISABLE: 0x0002,
  NORMAL_ACCOUNT: 0x0200,
  DONT_EXPIRE_PASSWORD: 0x10000,
} as const;

/** msDS-User-Account-Control-Computed bits: lockout and expiry are only current here, not in userAccountControl. */
export const UAC_COMPUTED = {
  LOCKOUT: 0x0010,
  PASSWORD_EXPIRED: 0x800000,
} as const;

/** Attributes to ask for by name: the computed one is constructed and never returned by `*`. */
export const AD_ACCOUNT_ATTRIBUTES = ['userAccountControl', 'msDS-User-Account-Control-Computed'] as const;

/** LDAP_MATCHING_RULE_IN_CHAIN: the DC walks nested group membership in one search. */
export const MATCHING_RULE_IN_CHAIN = '1.2.840.113556.1.4.1941';

interface SubCode {
  reason: RejectReason;
  text: string;
}

/** The `data XXX` sub-codes AD puts in the diagnostic message of a bind that failed with result 49. */
export const AD_BIND_SUBCODES: Readonly<Record<string, SubCode>> = {
  '525': { reason: 'unknown-user', text: 'user not found' },
  '52e': { reason: 'bad-password', text: 'invalid credentials' },
  '530': { reason: 'not-permitted', text: 'not permitted to log on at this time' },
  '531': { reason: 'not-permitted', text: 'not permitted to log on at this workstation' },
  '532': { reason: 'password-expired', text: 'password expired' },
  '533': { reason: 'disabled', text: 'account disabled' },
  '701': { reason: 'account-expired', text: 'account expired' },
  '773': { reason: 'must-change-password', text: 'user must reset password' },
  '775': { reason: 'locked', text: 'account locked out' },
};

/** `80090308: LdapErr: DSID-0C09044E, comment: AcceptSecurityContext error, data 52e, v4563` -> `52e`. */
export function adBindSubCode(diagnostic: string): string | null {
  const m = /\bdata ([0-9a-f]{1,8})\b/i.exec(diagnostic);
  return m?.[1] ? m[1].toLowerCase() : null;
}

/**
 * What an AD bind failure (result 49) means for the user. An unknown or missing sub-code is a wrong password, the
 * only safe reading of invalidCredentials.
 */
export function mapAdBindFailure(diagnostic: string): { reason: RejectReason; detail: string } {
  const code = adBindSubCode(diagnostic);
  const known = code ? AD_BIND_SUBCODES[code] : undefined;
  if (known) return { reason: known.reason, detail: `Active Directory: ${known.text} (data ${code})` };
  return {
    reason: 'bad-password',
    detail: code ? `Active Directory: invalid credentials (unrecognised data ${code})` : 'Active Directory: invalid credentials',
  };
}

/** An attribute value as AD returns it (a decimal string); null when missing or not a number. */
export function parseFlags(value: string | undefined): number | null {
  if (value === undefined || !/^-?\d+$/.test(value.trim())) return null;
  // the values are 32-bit: keep them unsigned so the bit tests below work for the high bits too
  return Number(value.trim()) >>> 0;
}

export type AdAccountState = 'disabled' | 'locked' | 'password-expired' | 'ok';

/**
 * The account's state from userAccountControl and msDS-User-Account-Control-Computed. Disabled wins over locked over
 * expired: that is the order in which an admin has to fix them. Expiry honours DONT_EXPIRE_PASSWORD.
 */
export function adAccountState(uac: number | null, computed: number | null): AdAccountState {
  if (uac !== null && (uac & UAC.ACCOUNTDISABLE) !== 0) return 'disabled';
  if (computed !== null && (computed & UAC_COMPUTED.LOCKOUT) !== 0) return 'locked';
  const neverExpires = uac !== null && (uac & UAC.DONT_EXPIRE_PASSWORD) !== 0;
  if (!neverExpires && computed !== null && (computed & UAC_COMPUTED.PASSWORD_EXPIRED) !== 0) return 'password-expired';
  return 'ok';
}

export function describeAdState(uac: number | null, computed: number | null): string {
  const hex = (n: number | null) => (n === null ? 'absent' : `0x${n.toString(16)}`);
  return `userAccountControl ${hex(uac)}, msDS-User-Account-Control-Computed ${hex(computed)}: ${adAccountState(uac, computed)}`;
}

/** Groups the user is in directly or through nesting, in one search (AD only). */
export function nestedGroupFilter(userDn: string): string {
  return `(&(objectClass=group)(member:${MATCHING_RULE_IN_CHAIN}:=${escapeFilterValue(userDn)}))`;
}
