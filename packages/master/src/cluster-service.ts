import { exportJWK, generateKeyPair, type JWK } from 'jose';
import { ConflictError, InvalidInputError, NotFoundError, formatListenAddress, setAsideFiles, type ReplicaBundle } from '@otpgate/shared';
import { CLUSTER_FILES, ClusterSetupError, ReplicaRegistry, type ClusterFiles, type Store } from '@otpgate/core';
import { certificateHosts, createCa, defaultCertificateHosts, issueCertificate, type CertificateAuthority, type IssuedCertificate } from './cluster-ca.js';

export const SERVER_CERT_DAYS = 825;
export const CLIENT_CERT_DAYS = 825;
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

export function isClusterInitialised(files: ClusterFiles): boolean {
  return files.has('caKey') && files.has('feedPrivateKey');
}

interface ClusterMaterial {
  url: string;
  hosts: string[];
  ca: CertificateAuthority;
  server: IssuedCertificate;
  feedPrivateKey: JWK;
  feedPublicKey: JWK;
}

/** Everything a new master needs, made in memory: nothing is written until all of it exists. */
async function createClusterMaterial(clusterId: string, options: ClusterOptions): Promise<ClusterMaterial> {
  const hosts = options.hosts && options.hosts.length > 0 ? options.hosts : defaultCertificateHosts();
  const url = options.url ?? `https://${formatListenAddress({ host: hosts[0]!, port: options.port })}`;
  if (!/^https:\/\//.test(url)) throw new InvalidInputError('the master URL must start with https://', 'url');
  const ca = await createCa(clusterId);
  const server = await issueServerCertificate(ca, hosts);
  const { privateKey, publicKey } = await generateKeyPair('Ed25519', { extractable: true });
  return { url, hosts, ca, server, feedPrivateKey: await exportJWK(privateKey), feedPublicKey: await exportJWK(publicKey) };
}

function issueServerCertificate(ca: CertificateAuthority, hosts: readonly string[]): Promise<IssuedCertificate> {
  return issueCertificate(ca, { commonName: hosts[0]!, usage: 'server', hosts, validityDays: SERVER_CERT_DAYS });
}

function writeClusterMaterial(files: ClusterFiles, m: ClusterMaterial): void {
  files.write('caCert', m.ca.certificate);
  files.write('caKey', m.ca.key);
  files.write('serverCert', m.server.certificate);
  files.write('serverKey', m.server.key);
  files.write('feedPrivateKey', JSON.stringify(m.feedPrivateKey));
  files.write('feedPublicKey', JSON.stringify(m.feedPublicKey));
}

export interface ClusterOptions {
  hosts?: string[];
  url?: string;
  port: number;
}

/**
 * `otpgate cluster init` on the master: a private CA, the replication API's server certificate (for the given host
 * names and addresses) and the Ed25519 key that signs the feed.
 */
export async function initCluster(store: Store, files: ClusterFiles, options: ClusterOptions): Promise<{ url: string; hosts: string[] }> {
  store.assertWritable();
  if (isClusterInitialised(files)) {
    throw new ClusterSetupError(`the cluster is already initialised (${files.dir}); to renew the server certificate: otpgate cluster renew-certificate`);
  }
  const m = await createClusterMaterial(store.getMeta('cluster_id')!, options);
  writeClusterMaterial(files, m);
  store.setMeta('master_url', m.url);
  return { url: m.url, hosts: m.hosts };
}

/**
 * `otpgate cluster promote` on a replica: it becomes the master with a new CA and feed key (the old ones never left
 * the old master). All of it is made before anything changes; then the replica's cluster files are set aside (not
 * deleted), the new ones written, and role and URL switched in one transaction, so a failure leaves the replica as is.
 */
export async function promoteToMaster(
  store: Store,
  files: ClusterFiles,
  options: ClusterOptions,
): Promise<{ url: string; hosts: string[]; setAside: string | undefined }> {
  if (store.role !== 'replica') throw new InvalidInputError('this node is already the master');
  const m = await createClusterMaterial(store.getMeta('cluster_id')!, options);
  const setAside = setAsideFiles(files.dir, Object.values(CLUSTER_FILES), store.dataDir, 'previous-replica');
  writeClusterMaterial(files, m);
  store.setRole('master', { master_url: m.url });
  return { url: m.url, hosts: m.hosts, setAside };
}

/**
 * `otpgate cluster renew-certificate` on the master: a new server certificate from the cluster CA for the same names.
 * Replicas trust the CA, not the certificate, so none has to re-join. The old certificate and key are set aside.
 */
export async function renewServerCertificate(
  store: Store,
  files: ClusterFiles,
): Promise<{ hosts: string[]; notAfter: Date; setAside: string | undefined }> {
  store.assertWritable();
  if (!isClusterInitialised(files)) throw new ClusterSetupError('run "otpgate cluster init" first');
  const hosts = certificateHosts(files.read('serverCert'));
  if (hosts.length === 0) throw new ClusterSetupError(`${files.path('serverCert')} names no host; run "otpgate cluster init" on a new cluster`);
  const server = await issueServerCertificate({ certificate: files.read('caCert'), key: files.read('caKey') }, hosts);
  const setAside = setAsideFiles(files.dir, [CLUSTER_FILES.serverCert, CLUSTER_FILES.serverKey], store.dataDir, 'previous-server-certificate');
  files.write('serverCert', server.certificate);
  files.write('serverKey', server.key);
  return { hosts, notAfter: server.notAfter, setAside };
}

/** `otpgate cluster add-replica NAME`: a client certificate and the bundle the replica joins with. */
export async function addReplica(store: Store, files: ClusterFiles, name: string, validityDays = CLIENT_CERT_DAYS): Promise<ReplicaBundle> {
  store.assertWritable();
  if (!NAME.test(name)) throw new InvalidInputError('letters, digits, ".", "_" and "-" only', 'replica name');
  if (!isClusterInitialised(files)) throw new ClusterSetupError('run "otpgate cluster init" first');
  const registry = new ReplicaRegistry(store);
  const existing = registry.find(name);
  if (existing && existing.revoked_at === null) {
    throw new ConflictError(`replica ${name} is already enrolled; remove it first to issue a new bundle`);
  }
  const ca = { certificate: files.read('caCert'), key: files.read('caKey') };
  const client = await issueCertificate(ca, { commonName: name, usage: 'client', validityDays });
  registry.enrol(name, client.fingerprint, client.notAfter.getTime());
  const { d: _private, ...publicJwk } = JSON.parse(files.read('feedPrivateKey')) as Record<string, string>;
  return {
    format: 'otpgate-replica-bundle/1',
    cluster_id: store.getMeta('cluster_id')!,
    replica_name: name,
    master_url: store.getMeta('master_url')!,
    ca_certificate: ca.certificate,
    client_certificate: client.certificate,
    client_key: client.key,
    feed_public_key: publicJwk as ReplicaBundle['feed_public_key'],
  };
}

/** Revoke a replica: its certificate is refused from the next request on. */
export function removeReplica(store: Store, name: string): void {
  store.assertWritable();
  const registry = new ReplicaRegistry(store);
  const replica = registry.find(name);
  if (!replica || replica.revoked_at !== null) throw new NotFoundError('enrolled replica', name);
  registry.revoke(name);
}
