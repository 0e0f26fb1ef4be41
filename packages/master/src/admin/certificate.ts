import { X509Certificate, createPrivateKey } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidInputError, errorMessage } from '@otpgate/shared';
import type { Actor, AdminAuditService } from '@otpgate/core';
import { createSelfSignedServer, defaultCertificateHosts } from '../cluster-ca.js';

export const ADMIN_CERT_DAYS = 825;
/** Under this many days left, browsers are about to refuse a certificate: every place that shows one warns. */
export const CERTIFICATE_WARNING_DAYS = 30;

export function adminCertificateFiles(dataDir: string): { cert: string; key: string; chain: string } {
  const dir = join(dataDir, 'admin');
  return { cert: join(dir, 'tls.crt'), key: join(dir, 'tls.key'), chain: join(dir, 'chain.crt') };
}

/** A self-signed certificate on first start, so the UI is HTTPS from the beginning. */
export async function ensureAdminCertificate(dataDir: string, hosts: readonly string[] = defaultCertificateHosts()): Promise<void> {
  const files = adminCertificateFiles(dataDir);
  if (existsSync(files.cert) && existsSync(files.key)) return;
  mkdirSync(join(dataDir, 'admin'), { recursive: true, mode: 0o700 });
  const { certificate, key } = await createSelfSignedServer(hosts, ADMIN_CERT_DAYS);
  writeFileSync(files.key, key, { mode: 0o600 });
  writeFileSync(files.cert, certificate);
}

export interface CertificateInfo {
  subject: string;
  issuer: string;
  validTo: number;
  daysLeft: number;
  selfSigned: boolean;
  names: string;
}

export function describeCertificate(pem: string, now = Date.now()): CertificateInfo {
  const cert = new X509Certificate(pem);
  const validTo = Date.parse(cert.validTo);
  return {
    subject: cert.subject.replace(/\n/g, ', '),
    issuer: cert.issuer.replace(/\n/g, ', '),
    validTo,
    daysLeft: Math.floor((validTo - now) / 86_400_000),
    selfSigned: cert.subject === cert.issuer,
    names: cert.subjectAltName ?? '',
  };
}

export function currentAdminCertificate(dataDir: string): CertificateInfo | undefined {
  const files = adminCertificateFiles(dataDir);
  return existsSync(files.cert) ? describeCertificate(readFileSync(files.cert, 'utf8')) : undefined;
}

/**
 * Replace the admin UI's certificate with the admin's own (the UI's upload and `otpgate admin set-certificate`):
 * the key must match the certificate and the certificate must still be valid. Takes effect at the next start.
 */
function installAdminCertificate(dataDir: string, certPem: string, keyPem: string, chainPem = ''): CertificateInfo {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certPem);
  } catch (err) {
    throw new InvalidInputError(`not a PEM certificate: ${errorMessage(err)}`, 'certificate');
  }
  let key;
  try {
    key = createPrivateKey(keyPem);
  } catch (err) {
    throw new InvalidInputError(`not a PEM private key (or it is encrypted): ${errorMessage(err)}`, 'key');
  }
  if (!cert.checkPrivateKey(key)) throw new InvalidInputError('the private key does not belong to the certificate', 'key');
  if (Date.parse(cert.validTo) < Date.now()) throw new InvalidInputError(`the certificate expired on ${cert.validTo}`, 'certificate');
  if (chainPem.trim()) {
    try {
      new X509Certificate(chainPem);
    } catch (err) {
      throw new InvalidInputError(`the chain is not PEM certificates: ${errorMessage(err)}`, 'chain');
    }
  }
  const files = adminCertificateFiles(dataDir);
  mkdirSync(join(dataDir, 'admin'), { recursive: true, mode: 0o700 });
  writeFileSync(files.key, keyPem, { mode: 0o600 });
  writeFileSync(files.cert, certPem);
  writeFileSync(files.chain, chainPem);
  return describeCertificate(certPem);
}

/** What the audit log keeps of a certificate: enough to tell which one was replaced by which. */
function auditView(info: CertificateInfo) {
  return { subject: info.subject, issuer: info.issuer, names: info.names, valid_to: new Date(info.validTo).toISOString(), self_signed: info.selfSigned };
}

/** installAdminCertificate, audited with the certificate it replaces. */
export function replaceAdminCertificate(
  dataDir: string,
  pem: { certificate: string; key: string; chain?: string },
  audit: AdminAuditService,
  actor: Actor,
): CertificateInfo {
  const before = currentAdminCertificate(dataDir);
  const info = installAdminCertificate(dataDir, pem.certificate, pem.key, pem.chain);
  audit.record(actor, 'admin.set-certificate', info.subject, {
    before: before && auditView(before),
    after: auditView(info),
    details: { valid_to: new Date(info.validTo).toISOString() },
  });
  return info;
}
