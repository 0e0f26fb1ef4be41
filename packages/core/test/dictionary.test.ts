import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import radius from 'radius';
import { CODE } from '../src/radius/constants.js';
import { loadDictionary } from '../src/radius/dictionary.js';
import { parseRequest } from '../src/radius/packet.js';
import { buildResponse } from '../src/radius/response.js';
import { InvalidInputError } from '@otpgate/shared';
import { RFC_DICTIONARY_DIR } from '../src/radius/dictionary.js';
import { accessRequest } from './radius-wire.js';

const dictionary = loadDictionary();
const hex = (name: string, value: string) => dictionary.encode({ name, value }).toString('hex');
const refused = (name: string, value: string) => () => dictionary.encode({ name, value });

describe('Dictionary.encode', () => {
  it('standard string and integer attributes', () => {
    expect(hex('Filter-Id', 'vpn')).toBe('0b05' + '76706e');
    expect(hex('Session-Timeout', '3600')).toBe('1b06' + '00000e10');
    expect(hex('session-timeout', ' 60 ')).toBe('1b06' + '0000003c'); // names without case, values trimmed
    expect(hex('Class', '0x636c617373')).toBe('1907' + '636c617373'); // octets given as hex
    expect(hex('Class', 'text')).toBe('1906' + '74657874');
  });

  it('a vendor attribute inside Vendor-Specific: 26, length, vendor 12356, type 1, length, value', () => {
    const wire = dictionary.encode({ name: 'Fortinet-Group-Name', value: 'forti-vpn' });
    expect([...wire]).toEqual([26, 17, 0x00, 0x00, 0x30, 0x44, 1, 11, ...Buffer.from('forti-vpn')]);
    expect(wire.readUInt32BE(2)).toBe(12356);
    expect(dictionary.get('Fortinet-Group-Name')).toMatchObject({ vendorId: 12356, vendorName: 'Fortinet', type: 1, dataType: 'string' });
  });

  it('tagged attributes (RFC 2868): Tunnel-Type integer and Tunnel-Private-Group-Id string', () => {
    expect(hex('Tunnel-Type:1', 'VLAN')).toBe('4006' + '0100000d');
    expect(hex('Tunnel-Type', 'VLAN')).toBe('4006' + '0000000d');
    expect(hex('Tunnel-Medium-Type:1', 'IEEE-802')).toBe('4106' + '01000006');
    expect(hex('Tunnel-Private-Group-Id:1', '100')).toBe('5106' + '01313030');
    expect(hex('Tunnel-Private-Group-Id', '100')).toBe('5105' + '313030');
    expect(refused('Tunnel-Type:32', 'VLAN')).toThrow('attribute Tunnel-Type: tag must be 0-31');
    expect(refused('Tunnel-Type:x', 'VLAN')).toThrow('tag must be 0-31');
    expect(refused('Filter-Id:1', 'vpn')).toThrow('attribute Filter-Id takes no tag');
    // the tag takes the first of the four octets: values need to fit in 24 bits
    expect(refused('Tunnel-Type:1', String(2 ** 24))).toThrow('is too large');
  });

  it('ipaddr, ipv6 prefix, date', () => {
    expect(hex('Framed-IP-Address', '10.1.2.3')).toBe('0806' + '0a010203');
    expect(refused('Framed-IP-Address', '10.1.2')).toThrow('attribute Framed-IP-Address: "10.1.2" is not an IPv4 address');
    expect(refused('Framed-IP-Address', '::1')).toThrow('is not an IPv4 address');
    expect(hex('Framed-IPv6-Prefix', '2001:db8::/32')).toBe('6108' + '0020' + '20010db8');
    expect(refused('Framed-IPv6-Prefix', '2001:db8::/129')).toThrow('is not an IPv6 prefix');
  });

  it('integers by VALUE name, in any case, or by number', () => {
    expect(hex('Service-Type', 'Framed-User')).toBe('0606' + '00000002');
    expect(hex('Service-Type', 'framed-user')).toBe('0606' + '00000002');
    expect(hex('Service-Type', '2')).toBe('0606' + '00000002');
    const bogus = refused('Service-Type', 'Bogus-User');
    expect(bogus).toThrow(InvalidInputError);
    expect(bogus).toThrow(/attribute Service-Type: "Bogus-User" is not a number or one of Login-User, Framed-User/);
    expect(refused('Session-Timeout', '-1')).toThrow('is not a number');
    expect(refused('Session-Timeout', String(2 ** 32))).toThrow('is too large');
  });

  it('refuses attributes the server manages itself or that are encrypted', () => {
    expect(refused('User-Password', 'x')).toThrow('User-Password cannot be set as a reply attribute');
    expect(refused('State', 'x')).toThrow('State cannot be set as a reply attribute');
    expect(refused('Message-Authenticator', 'x')).toThrow('Message-Authenticator cannot be set as a reply attribute');
    expect(refused('Proxy-State', 'x')).toThrow('cannot be set as a reply attribute');
    expect(refused('Vendor-Specific', 'x')).toThrow('cannot be set as a reply attribute');
    expect(refused('Tunnel-Password:1', 'x')).toThrow('Tunnel-Password is an encrypted attribute');
  });

  it('refuses unknown names, empty strings and values too long for an attribute', () => {
    expect(refused('No-Such-Attribute', 'x')).toThrow('unknown attribute "No-Such-Attribute" (not in the dictionary)');
    expect(refused('Filter-Id', '')).toThrow('attribute Filter-Id: value is empty');
    expect(hex('Filter-Id', 'x'.repeat(253))).toHaveLength(2 * 255);
    expect(refused('Filter-Id', 'x'.repeat(254))).toThrow('attribute Filter-Id: value is 254 bytes, at most 253');
    expect(refused('Fortinet-Group-Name', 'x'.repeat(248))).toThrow('value is 248 bytes, at most 247');
  });

  it('produces attributes the radius package decodes to the same values', () => {
    const request = accessRequest({ secret: 'testing123' });
    const parsed = parseRequest(request);
    if (!parsed.ok) throw new Error(parsed.reason);
    const response = buildResponse(CODE.ACCESS_ACCEPT, parsed.request, Buffer.from('testing123'), [
      dictionary.encode({ name: 'Service-Type', value: 'Framed-User' }),
      dictionary.encode({ name: 'Framed-IP-Address', value: '192.0.2.7' }),
      dictionary.encode({ name: 'Tunnel-Private-Group-Id:3', value: 'vlan-42' }),
      dictionary.encode({ name: 'Tunnel-Type:3', value: 'VLAN' }),
    ]);
    const decoded = radius.decode({ packet: response, secret: 'testing123' }).attributes;
    expect(decoded['Service-Type']).toBe('Framed-User');
    expect(decoded['Framed-IP-Address']).toBe('192.0.2.7');
    expect(decoded['Tunnel-Private-Group-Id']).toEqual([3, 'vlan-42']);
    expect(decoded['Tunnel-Type']).toEqual([3, 'VLAN']);
  });
});

describe('loadDictionary with extra files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'otpgate-dict-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('adds vendor attributes and their values from an admin file', () => {
    const file = join(dir, 'dictionary.acme');
    writeFileSync(
      file,
      [
        '# ACME appliances',
        'VENDOR  ACME  99999',
        'BEGIN-VENDOR ACME',
        'ATTRIBUTE  ACME-Role   7  integer',
        'ATTRIBUTE  ACME-Table  8  tlv   # not encodable: skipped',
        'VALUE  ACME-Role  Operator  2',
        'END-VENDOR ACME',
        'ATTRIBUTE  ACME-Not-A-Vendor-Attr  250  string',
      ].join('\n'),
    );
    const d = loadDictionary([file]);
    expect([...d.encode({ name: 'ACME-Role', value: 'operator' })]).toEqual([26, 12, 0, 1, 0x86, 0x9f, 7, 6, 0, 0, 0, 2]);
    expect(d.get('ACME-Table')).toBeUndefined();
    expect(d.get('ACME-Not-A-Vendor-Attr')).toMatchObject({ vendorId: 0, type: 250 });
    // the standard ones are still there
    expect(d.get('Filter-Id')?.type).toBe(11);
  });

  it('refuses a BEGIN-VENDOR of an unknown vendor, naming file and line', () => {
    const file = join(dir, 'dictionary.broken');
    writeFileSync(file, '\n\nBEGIN-VENDOR Nobody\n');
    expect(() => loadDictionary([file])).toThrow(`${file}:3: BEGIN-VENDOR of unknown vendor Nobody`);
  });
});

describe('the vendored RFC dictionaries', () => {
  it('are the radius package\'s files, unchanged, with its licence beside them', () => {
    const theirs = join(dirname(createRequire(import.meta.url).resolve('radius/package.json')), 'dictionaries');
    const files = readdirSync(theirs).sort();
    expect(readdirSync(RFC_DICTIONARY_DIR).sort()).toEqual(['LICENSE', ...files]);
    for (const file of files) expect(readFileSync(join(RFC_DICTIONARY_DIR, file), 'latin1'), file).toBe(readFileSync(join(theirs, file), 'latin1'));
  });
});
