import { HOTP, Secret, TOTP } from 'otpauth';
import type { OtpAlgorithm, OtpKind } from '@otpgate/shared';

export interface ProvisioningParameters {
  kind: OtpKind;
  issuer: string;
  account: string;
  key: Buffer;
  algorithm: OtpAlgorithm;
  digits: number;
  period: number;
  counter: number;
}

/** The otpauth:// URI an authenticator app scans (Key Uri Format). */
export function provisioningUri(p: ProvisioningParameters): string {
  const secret = new Secret({ buffer: new Uint8Array(p.key).buffer });
  const common = { issuer: p.issuer, label: p.account, secret, algorithm: p.algorithm, digits: p.digits, issuerInLabel: true };
  return p.kind === 'hotp'
    ? new HOTP({ ...common, counter: p.counter }).toString()
    : new TOTP({ ...common, period: p.period }).toString();
}
