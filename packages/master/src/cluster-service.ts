import { hostname } from 'node:os';
import { exportJWK, generateKeyPair } from 'jose';
import { ConflictError, InvalidInputError, NotFoundError, formatListenAddress, type ReplicaBundle } from '@otpgate/shared';
import type { ClusterFiles} from '@otpgate/core';
import { ClusterSetupError, type Store } from '@otpgate/core';
import { createCa, issueCertificate } from './cluster-ca.js';
import { ReplicaRegistry } from './replica-registry.js';

export const SERVER_CERT_DAYS = 825;
export const CLIENT_CERT_DAYS = 825;
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

export function isClusterInitialised(files: ClusterFiles): boolean {
  return files.has('caKey') && files.has('feedPrivateKey');
}

/**
 * `otpgate cluster init` on the master: a private CA, the replication API's server certificate (for the given host
 * names and addresses) and the Ed25519 key that signs the feed.
 */
export async function initCluster(
  store: Store,
  files: ClusterFiles,
  options: { hosts?: string[]; url?: string; port: number },
): Promise<{ url: string; hosts: string[] }> {
  store.assertWritable();
  if (isClusterInitialised(files)) throw new ClusterSetupError(`the cluster is already initialised (${files.dir})`);
  const hosts = options.hosts && options.hosts.length > 0 ? options.hosts : [hostname(), 'localhost', '127.0.0.1', '::1'];
  const url = options.url ?? `https://${formatListenAddress({ host: hosts[0]!, port: options.port })}`;
  if (!/^https:\/\//.test(url)) throw new InvalidInputError('the master URL must start with https://', 'url');
  const clusterId = store.getMeta('cluster_id')!;
  const ca = await createCa(clusterId);
  const server = await issueCertificate(ca, { commonName: hosts[0]!, usage: 'server', hosts, validityDays: SERVER_CERT_DAYS });
  const { privateKey, publicKey } = await generateKeyPair('Ed25519', { extractable: true });
  files.write('caCert', ca.certificate);
  files.write('caKey', ca.key);
  files.write('serverCert', server.certificate);
  files.write('serverKey', server.key);
  files.write('feedPrivateKey', JSON.stringify(await exportJWK(privateKey)));
  files.write('feedPublicKey', JSON.stringify(await exportJWK(publicKey)));
  store.setMeta('master_url', url);
  return { url, hosts };
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
