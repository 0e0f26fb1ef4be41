/**
 * The helper downloads of a one-time VPN credential (pure: the tests parse what these return):
 * - an Apple configuration profile (.mobileconfig) with one com.apple.vpn.managed payload, IKEv2 with EAP
 *   (AuthenticationMethod None, ExtendedAuthEnabled 1, AuthName/AuthPassword) or L2TP (PPP + IPSec with the shared
 *   secret), which the device removes by itself at RemovalDate, the credential's expiry;
 * - a Windows PowerShell script that adds the connection (Add-VpnConnection), dials it with the credential (rasdial),
 *   and on Enter disconnects, removes the connection and deletes itself.
 */
import { randomUUID } from 'node:crypto';
import type { VpnProfile } from '@otpgate/shared';
import { plist, type PlistValue } from './plist.js';

export interface VpnLogin {
  username: string;
  password: string;
  expiresAt: number;
}

export const MOBILECONFIG_TYPE = 'application/x-apple-aspen-config';

/** A file name from a display name: letters, digits, "-" and "_" only. */
export function downloadName(profile: Pick<VpnProfile, 'display_name'>, extension: string): string {
  const stem = profile.display_name.normalize('NFKD').replace(/[^A-Za-z0-9_-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 40);
  return `${stem || 'vpn'}.${extension}`;
}

function vpnSettings(profile: VpnProfile, login: VpnLogin): { [key: string]: PlistValue } {
  if (profile.type === 'ikev2') {
    return {
      VPNType: 'IKEv2',
      IKEv2: {
        AuthenticationMethod: 'None',
        ExtendedAuthEnabled: 1,
        AuthName: login.username,
        AuthPassword: login.password,
        RemoteAddress: profile.server,
        RemoteIdentifier: profile.remote_id || profile.server,
        LocalIdentifier: login.username,
      },
    };
  }
  return {
    VPNType: 'L2TP',
    PPP: { CommRemoteAddress: profile.server, AuthName: login.username, AuthPassword: login.password },
    IPSec: { AuthenticationMethod: 'SharedSecret', LocalIdentifierType: 'KeyID', SharedSecret: Buffer.from(profile.shared_secret ?? '', 'utf8') },
  };
}

export function mobileconfig(profile: VpnProfile, login: VpnLogin): string {
  const id = randomUUID().toUpperCase();
  const payloadId = randomUUID().toUpperCase();
  return plist({
    PayloadContent: [
      {
        PayloadType: 'com.apple.vpn.managed',
        PayloadIdentifier: `otpgate.vpn.${id}.vpn`,
        PayloadUUID: payloadId,
        PayloadVersion: 1,
        PayloadDisplayName: profile.display_name,
        UserDefinedName: profile.display_name,
        ...vpnSettings(profile, login),
      },
    ],
    PayloadDisplayName: `${profile.display_name} (one-time login)`,
    PayloadDescription: `A one-time VPN login for ${login.username}: it removes itself at ${new Date(login.expiresAt).toISOString()}.`,
    PayloadIdentifier: `otpgate.vpn.${id}`,
    PayloadUUID: id,
    PayloadType: 'Configuration',
    PayloadVersion: 1,
    RemovalDate: new Date(login.expiresAt),
  });
}

/**
 * A PowerShell single-quoted string: nothing inside is expanded; the quote characters PowerShell takes as single
 * quotes (' and the typographic ‘ ’ ‚ ‛) are doubled, and line breaks and other controls dropped.
 */
export function psQuote(text: string): string {
  // eslint-disable-next-line no-control-regex
  return `'${text.replace(/[\u0000-\u001f\u007f\u0085\u2028\u2029]/g, '').replace(/['\u2018\u2019\u201a\u201b]/g, '$&$&')}'`;
}

export function powershellScript(profile: VpnProfile, login: VpnLogin): string {
  const tunnel =
    profile.type === 'ikev2'
      ? `-TunnelType Ikev2 -AuthenticationMethod Eap -EncryptionLevel Required`
      : `-TunnelType L2tp -L2tpPsk ${psQuote(profile.shared_secret ?? '')} -AuthenticationMethod Pap -EncryptionLevel Optional`;
  return `# otpgate: one-time VPN login for ${login.username.replace(/[^\x20-\x7e]/g, '?')}, good once until ${new Date(login.expiresAt).toISOString()}.
# Run it (powershell -ExecutionPolicy Bypass -File <this file>): it adds the connection, connects, and when you
# press Enter disconnects, removes the connection and deletes this file.
$ErrorActionPreference = 'Stop'
$name = ${psQuote(`${profile.display_name} (otpgate)`)}
Add-VpnConnection -Name $name -ServerAddress ${psQuote(profile.server)} ${tunnel} -RememberCredential:$false -Force
try {
  rasdial $name ${psQuote(login.username)} ${psQuote(login.password)}
  if ($LASTEXITCODE -ne 0) { throw "rasdial failed with code $LASTEXITCODE" }
  Read-Host 'Connected. Press Enter to disconnect' | Out-Null
  rasdial $name /disconnect | Out-Null
} finally {
  Remove-VpnConnection -Name $name -Force -ErrorAction SilentlyContinue
  if ($PSCommandPath) { Remove-Item -LiteralPath $PSCommandPath -Force -ErrorAction SilentlyContinue }
}
`;
}
