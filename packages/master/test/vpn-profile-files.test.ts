import { describe, expect, it } from 'vitest';
import { XMLValidator } from 'fast-xml-parser';
import { parse } from 'plist';
import type { VpnProfile } from '@otpgate/shared';
import { downloadName, mobileconfig, powershellScript, psQuote } from '../src/portal/vpn-profile-files.js';
import { plist, xmlText } from '../src/portal/plist.js';

const ikev2: VpnProfile = { client: 'gw', display_name: 'Office VPN', type: 'ikev2', server: 'vpn.example.test', remote_id: '', updated_at: 0 };
const l2tp: VpnProfile = { client: 'gw', display_name: 'Office L2TP', type: 'l2tp', server: '192.0.2.10', remote_id: '', shared_secret: 'psk-secret-1', updated_at: 0 };
const login = { username: 'alice', password: 'vpn-abcdefghijklmnopqrstuvwx', expiresAt: Date.parse('2026-12-03T10:02:00Z') };
/** A display name and a user name an attacker might choose: markup, a CDATA end, a DOCTYPE, quotes, controls, a lone surrogate. */
const HOSTILE = `</string><key>X</key>]]><!DOCTYPE x [<!ENTITY e "boom">]>&e; ' " \u0001\u0008\ud800 ‘’`;

type Dict = Record<string, unknown>;
const parsed = (xml: string) => {
  expect(XMLValidator.validate(xml)).toBe(true);
  return parse(xml) as Dict;
};

describe('Apple configuration profile', () => {
  it('IKEv2: a Configuration with one com.apple.vpn.managed payload, EAP by user name and password, removed at the credential\'s expiry', () => {
    const profile = parsed(mobileconfig(ikev2, login));
    expect(profile).toMatchObject({ PayloadType: 'Configuration', PayloadVersion: 1, RemovalDate: new Date(login.expiresAt) });
    expect(profile.PayloadUUID).toMatch(/^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$/);
    const [vpn] = profile.PayloadContent as Dict[];
    expect(vpn).toMatchObject({
      PayloadType: 'com.apple.vpn.managed',
      VPNType: 'IKEv2',
      UserDefinedName: 'Office VPN',
      IKEv2: { AuthenticationMethod: 'None', ExtendedAuthEnabled: 1, AuthName: 'alice', AuthPassword: login.password, RemoteAddress: 'vpn.example.test', RemoteIdentifier: 'vpn.example.test', LocalIdentifier: 'alice' },
    });
    expect(vpn!.PayloadUUID).not.toBe(profile.PayloadUUID);
  });

  it('fresh UUIDs every time', () => {
    const [a, b] = [parsed(mobileconfig(ikev2, login)), parsed(mobileconfig(ikev2, login))];
    expect(a.PayloadUUID).not.toBe(b.PayloadUUID);
    expect(a.PayloadIdentifier).not.toBe(b.PayloadIdentifier);
  });

  it('L2TP: PPP with the credential, IPSec with the shared secret as data', () => {
    const [vpn] = parsed(mobileconfig(l2tp, login)).PayloadContent as Dict[];
    expect(vpn).toMatchObject({ VPNType: 'L2TP', PPP: { CommRemoteAddress: '192.0.2.10', AuthName: 'alice', AuthPassword: login.password }, IPSec: { AuthenticationMethod: 'SharedSecret', LocalIdentifierType: 'KeyID' } });
    expect(Buffer.from((vpn!.IPSec as Dict).SharedSecret as Uint8Array).toString()).toBe('psk-secret-1');
  });

  it('hostile names stay text: the XML is well formed, holds one payload, and reads back as the name less what XML cannot carry', () => {
    const xml = mobileconfig({ ...ikev2, display_name: HOSTILE }, { ...login, username: HOSTILE });
    expect(xml).not.toContain('<!DOCTYPE x');
    expect(xml).not.toContain(']]>');
    const profile = parsed(xml);
    const [vpn] = profile.PayloadContent as Dict[];
    const readable = HOSTILE.replace('\u0001\u0008\ud800', '');
    expect(vpn!.UserDefinedName).toBe(readable);
    expect((vpn!.IKEv2 as Dict).AuthName).toBe(readable);
    expect(Object.keys(vpn!)).not.toContain('X');
  });

  it('the writer escapes every markup character and refuses a number that is not an integer', () => {
    expect(xmlText(`<a href="x">&'`)).toBe('&lt;a href=&quot;x&quot;&gt;&amp;&apos;');
    expect(() => plist({ n: 1.5 })).toThrow(/integers/);
    expect(parsed(plist({ list: [], dict: {}, yes: true, no: false }))).toEqual({ list: [], dict: {}, yes: true, no: false });
  });
});

describe('Windows PowerShell script', () => {
  it('adds the connection, dials it with the credential, and removes the connection and itself', () => {
    const script = powershellScript(ikev2, login);
    expect(script).toContain("Add-VpnConnection -Name $name -ServerAddress 'vpn.example.test' -TunnelType Ikev2");
    expect(script).toContain(`rasdial $name 'alice' '${login.password}'`);
    expect(script).toContain('Remove-VpnConnection -Name $name -Force');
    expect(script).toContain('Remove-Item -LiteralPath $PSCommandPath');
    expect(powershellScript(l2tp, login)).toContain("-TunnelType L2tp -L2tpPsk 'psk-secret-1'");
  });

  it('quotes values so that nothing in them is code: single quotes (also the typographic ones) doubled, line breaks dropped', () => {
    expect(psQuote("it's")).toBe("'it''s'");
    expect(psQuote('a‘b’c')).toBe("'a‘‘b’’c'");
    expect(psQuote('$(Remove-Item C:\\ -Recurse)`n')).toBe("'$(Remove-Item C:\\ -Recurse)`n'");
    expect(psQuote("x'\r\nStart-Process calc;'")).toBe("'x''Start-Process calc;'''");
    const script = powershellScript({ ...ikev2, display_name: "Evil'; Start-Process calc; '" }, { ...login, username: "a'\nb" });
    expect(script).toContain("$name = 'Evil''; Start-Process calc; '' (otpgate)'");
    expect(script).toContain("rasdial $name 'a''b'");
  });

  it('file names keep letters, digits, "-" and "_" only', () => {
    expect(downloadName({ display_name: '../Office VPN "main"' }, 'mobileconfig')).toBe('Office-VPN-main.mobileconfig');
    expect(downloadName({ display_name: '«»' }, 'ps1')).toBe('vpn.ps1');
  });
});
