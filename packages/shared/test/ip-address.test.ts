import { describe, expect, it } from 'vitest';
import { ADMIN_ALLOW_DEFAULT, CidrList, formatIpv6, ipv6Bytes } from '@otpgate/shared';

describe('CidrList', () => {
  it('holds addresses of its blocks, IPv4 and IPv6, however the socket writes them', () => {
    const list = CidrList.parse(ADMIN_ALLOW_DEFAULT);
    if (Array.isArray(list)) throw new Error(list.join('; '));
    for (const inside of ['127.0.0.1', '127.9.9.9', '::1', '10.1.2.3', '::ffff:10.1.2.3', '172.31.255.255', '192.168.0.1', 'fd12:3456::1', 'fd00::1%eth0']) {
      expect(list.contains(inside), inside).toBe(true);
    }
    for (const outside of ['203.0.113.5', '::ffff:203.0.113.5', '172.32.0.1', '11.0.0.1', '2001:db8::1', 'fe80::1', '::2', 'not-an-address', '']) {
      expect(list.contains(outside), outside).toBe(false);
    }
  });

  it('lets "0.0.0.0/0" hold every IPv4 peer and "::/0" every peer', () => {
    const v4 = CidrList.parse(['0.0.0.0/0']) as CidrList;
    expect([v4.contains('198.51.100.1'), v4.contains('::ffff:198.51.100.1'), v4.contains('2001:db8::1')]).toEqual([true, true, false]);
    expect((CidrList.parse(['::/0']) as CidrList).contains('2001:db8::1')).toBe(true);
  });

  it('lists every entry it cannot read', () => {
    expect(CidrList.parse(['10.0.0.0/8', 'nas', '::/200'])).toEqual(['"nas" is not an IP address or CIDR block', '"::/200": prefix length must be 0-128']);
  });
});

describe('formatIpv6', () => {
  it('writes the RFC 5952 form: lower case, no leading zeros, the first longest run of two or more zero groups as ::', () => {
    const cases: Array<[string, string]> = [
      ['2001:0DB8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
      ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], // equal runs: the first
      ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // one zero group stays
      ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'], // the longest run
      ['::', '::'],
      ['::1', '::1'],
      ['fe80::', 'fe80::'],
    ];
    for (const [input, expected] of cases) expect(formatIpv6(ipv6Bytes(input)), input).toBe(expected);
  });
});
