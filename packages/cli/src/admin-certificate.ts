import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { CertificateInfo } from '@otpgate/master';
import { formatTime } from '@otpgate/shared';
import { loadMaster } from './lazy.js';

/**
 * The admin UI's self-signed certificate, made at init so its fingerprint can be printed there (to compare with what
 * the browser shows on the first visit) rather than appearing unannounced on the first start.
 */
export async function createAdminCertificate(dataDir: string): Promise<{ info: CertificateInfo; fingerprint: string }> {
  const { adminCertificateFiles, currentAdminCertificate, ensureAdminCertificate } = await loadMaster();
  await ensureAdminCertificate(dataDir);
  const pem = readFileSync(adminCertificateFiles(dataDir).cert, 'utf8');
  return { info: currentAdminCertificate(dataDir)!, fingerprint: new X509Certificate(pem).fingerprint256 };
}

/**
 * What to do about a certificate that expires soon (or has), or undefined while it has time left (warningDays: the
 * master's CERTIFICATE_WARNING_DAYS, which the admin UI warns at too).
 */
export function expiryWarning(info: Pick<CertificateInfo, 'validTo' | 'daysLeft'>, warningDays: number): string | undefined {
  if (info.daysLeft >= warningDays) return undefined;
  const when = info.validTo <= Date.now() ? `expired on ${formatTime(info.validTo)}` : `expires in ${info.daysLeft} days (${formatTime(info.validTo)})`;
  return `WARNING: the admin UI certificate ${when}; browsers will refuse it: install a new one with "otpgate admin set-certificate"`;
}
