import { describe, expect, it } from 'vitest';
import { pskFromHex } from '../src/imports/psk-key.js';
import { parseAttributeAssignment, parseAttributeLines } from '../src/services/context.js';
import { InvalidInputError } from '@otpgate/shared';

describe('admin text input read the same from the admin UI and the CLI', () => {
  it('reply attributes: one Name=value per line, each read like a --attribute option (quotes stripped)', () => {
    const text = 'Filter-Id="vpn"\r\n\n  Fortinet-Group-Name = staff  \nReply-Message=a=b';
    expect(parseAttributeLines(text)).toEqual([
      { name: 'Filter-Id', value: 'vpn' },
      { name: 'Fortinet-Group-Name', value: 'staff' },
      { name: 'Reply-Message', value: 'a=b' },
    ]);
    expect(parseAttributeLines('Filter-Id="vpn"')[0]).toEqual(parseAttributeAssignment('Filter-Id="vpn"'));
    expect(parseAttributeLines('')).toEqual([]);
    expect(() => parseAttributeLines('Filter-Id=vpn\n=oops')).toThrow('"=oops" is not Name=value');
  });

  it('PSKC pre-shared key: 32, 48 or 64 hex digits, 0x allowed', () => {
    expect(pskFromHex(' 0x000102030405060708090A0B0C0D0E0F\n')).toEqual(Buffer.from('000102030405060708090a0b0c0d0e0f', 'hex'));
    expect(pskFromHex('ab'.repeat(24))).toHaveLength(24);
    expect(pskFromHex('ab'.repeat(32))).toHaveLength(32);
    for (const bad of ['', 'ab'.repeat(15), 'ab'.repeat(17), 'zz'.repeat(16), 'ab'.repeat(40)]) {
      expect(() => pskFromHex(bad), bad).toThrow(InvalidInputError);
    }
    expect(() => pskFromHex('abc')).toThrow('pre-shared key: expected 32, 48 or 64 hex digits');
  });
});
