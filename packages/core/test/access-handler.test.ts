import { describe, expect, it } from 'vitest';
import { nasAddressText } from '../src/radius/access-handler.js';

describe('nasAddressText (the nas_ip of the log line and the audit row)', () => {
  it('writes NAS-IP-Address dotted, and NAS-IPv6-Address in the RFC 5952 form the client table and admin UI use', () => {
    expect(nasAddressText(Buffer.from([192, 0, 2, 7]), undefined)).toBe('192.0.2.7');
    expect(nasAddressText(undefined, Buffer.from('20010db8000000000000000000000001', 'hex'))).toBe('2001:db8::1');
    expect(nasAddressText(undefined, Buffer.from('fe800000000000000000000000000000', 'hex'))).toBe('fe80::');
    expect(nasAddressText(undefined, Buffer.alloc(16))).toBe('::');
  });

  it('gives the empty text for a missing or malformed address', () => {
    expect(nasAddressText(undefined, undefined)).toBe('');
    expect(nasAddressText(Buffer.from([10, 0, 0]), Buffer.alloc(15))).toBe('');
  });
});
