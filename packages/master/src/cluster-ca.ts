import { hostname } from 'node:os';
import { X509Certificate as NodeX509, randomBytes, webcrypto } from 'node:crypto';
import { isIP } from 'node:net';
import * as x509 from '@peculiar/x509';

// the DOM lib types (tsconfig) describe WebCrypto; Node's webcrypto implements it
x509.cryptoProvider.set(webcrypto as unknown as Crypto);

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY = 86_400_000;

export interface IssuedCertificate {
  certificate: string;
  key: string;
  fingerprint: string;
  notAfter: Date;
}

export interface CertificateAuthority {
  certificate: string;
  key: string;
}

async function exportKey(key: CryptoKey): Promise<string> {
  return x509.PemConverter.encode(await webcrypto.subtle.exportKey('pkcs8', key), 'PRIVATE KEY');
}

/** SHA-256 fingerprint in Node's "AA:BB:..." form, as a TLS server sees a client certificate. */
export function fingerprintOf(certificatePem: string): string {
  return new NodeX509(certificatePem).fingerprint256;
}

/** The host names and addresses a certificate is for (its subject alternative names). */
export function certificateHosts(certificatePem: string): string[] {
  const san = new x509.X509Certificate(certificatePem).getExtension(x509.SubjectAlternativeNameExtension);
  return san?.names.items.map((name) => name.value) ?? [];
}

function serial(): string {
  const bytes = randomBytes(16);
  bytes[0]! &= 0x7f; // a positive integer
  return bytes.toString('hex');
}

/** The cluster's private CA (ECDSA P-256): it signs the master's server and the replicas' client certificates. */
export async function createCa(clusterId: string, validityDays = 3650): Promise<CertificateAuthority> {
  const keys = await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify']);
  const now = new Date();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=otpgate cluster CA ${clusterId.slice(0, 8)}, O=otpgate`,
    notBefore: new Date(now.getTime() - 60_000),
    notAfter: new Date(now.getTime() + validityDays * DAY),
    signingAlgorithm: ALG,
    keys: keys as CryptoKeyPair,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey as CryptoKey),
    ],
  });
  return { certificate: cert.toString('pem'), key: await exportKey(keys.privateKey as CryptoKey) };
}

/**
 * A leaf certificate signed by the CA: a server certificate for the master (its host names and addresses as
 * SANs) or a client certificate for a replica.
 */
export async function issueCertificate(
  ca: CertificateAuthority,
  options: { commonName: string; usage: 'server' | 'client'; hosts?: readonly string[]; validityDays: number; notBefore?: Date },
): Promise<IssuedCertificate> {
  const caCert = new x509.X509Certificate(ca.certificate);
  const caKey = await webcrypto.subtle.importKey(
    'pkcs8',
    x509.PemConverter.decodeFirst(ca.key),
    ALG,
    false,
    ['sign'],
  );
  const keys = await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify']);
  const notBefore = options.notBefore ?? new Date(Date.now() - 60_000);
  const notAfter = new Date(notBefore.getTime() + 60_000 + options.validityDays * DAY);
  const sans = (options.hosts ?? []).map((h) => ({ type: isIP(h) ? ('ip' as const) : ('dns' as const), value: h }));
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: `CN=${options.commonName}, O=otpgate`,
    issuer: caCert.subject,
    notBefore,
    notAfter,
    signingAlgorithm: ALG,
    publicKey: keys.publicKey as CryptoKey,
    signingKey: caKey as CryptoKey,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([options.usage === 'server' ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth]),
      ...(sans.length > 0 ? [new x509.SubjectAlternativeNameExtension(sans)] : []),
      await x509.AuthorityKeyIdentifierExtension.create(caCert),
    ],
  });
  const pem = cert.toString('pem');
  return { certificate: pem, key: await exportKey(keys.privateKey as CryptoKey), fingerprint: fingerprintOf(pem), notAfter };
}

/** The names a node's own certificates carry unless told otherwise: this host, and loopback by name and address. */
export function defaultCertificateHosts(): string[] {
  return [hostname(), 'localhost', '127.0.0.1', '::1'];
}

/**
 * A self-signed server certificate (the admin UI's, made at first start): browsers warn until the admin installs
 * one from their own CA (`otpgate admin set-certificate` or the Certificate page).
 */
export async function createSelfSignedServer(hosts: readonly string[], validityDays: number): Promise<{ certificate: string; key: string }> {
  const keys = await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify']);
  const now = new Date();
  const sans = hosts.map((h) => ({ type: isIP(h) ? ('ip' as const) : ('dns' as const), value: h }));
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=${hosts[0] ?? 'otpgate'}, O=otpgate admin UI`,
    notBefore: new Date(now.getTime() - 60_000),
    notAfter: new Date(now.getTime() + validityDays * DAY),
    signingAlgorithm: ALG,
    keys: keys as CryptoKeyPair,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(sans),
    ],
  });
  return { certificate: cert.toString('pem'), key: await exportKey(keys.privateKey as CryptoKey) };
}
