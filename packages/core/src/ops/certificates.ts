import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ClusterFiles, type ClusterFile } from '../store/cluster-files.js';
import type { CertificateExpiry } from '../metrics.js';

/** A certificate file worth watching, under the name it has in the certificate label. */
export interface WatchedCertificate {
  certificate: string;
  path: string;
}

const CLUSTER_CERTIFICATES: ReadonlyArray<[string, ClusterFile]> = [
  ['cluster-ca', 'caCert'],
  ['replication-server', 'serverCert'],
  ['replica-client', 'clientCert'],
];

/** The cluster certificates present in a data folder (a master has the server one, a replica the client one). */
export function clusterCertificates(dataDir: string): WatchedCertificate[] {
  const files = new ClusterFiles(dataDir);
  return CLUSTER_CERTIFICATES.filter(([, file]) => files.has(file)).map(([certificate, file]) => ({ certificate, path: files.path(file) }));
}

/** Expiry of each readable certificate (the first one in a chain file); unreadable files are left out. */
export function readCertificateExpiries(watched: readonly WatchedCertificate[]): CertificateExpiry[] {
  return watched.flatMap((w) => {
    try {
      return [{ certificate: w.certificate, expiresAt: Date.parse(new X509Certificate(readFileSync(w.path)).validTo) }];
    } catch {
      return [];
    }
  });
}
