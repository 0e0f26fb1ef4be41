import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { replicaBundleSchema, parseWith, InvalidInputError, OtpgateError, setAsideFiles, type ReplicaBundle, errorMessage } from '@otpgate/shared';
import { CLUSTER_FILES, ClusterFiles, DATA_FILES, NO_MASTER_CERTIFICATE, Store } from '@otpgate/core';
import { NO_RESYNC_REQUEST } from './resync-request.js';

export class JoinRefusedError extends OtpgateError {
  constructor(message: string) {
    super('join-refused', message);
  }
}

export function readBundle(path: string): ReplicaBundle {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new InvalidInputError(`cannot read the replica bundle ${path}: ${errorMessage(err)}`);
  }
  return parseWith(replicaBundleSchema, json, `replica bundle ${path}`);
}

/**
 * `otpgate replica join BUNDLE`: make this node a replica of the bundle's master. A node that holds data of its own
 * (an old master rejoining) needs `force`: its data is replaced by the master's at the first sync. The cluster files
 * of its former role (an old master's CA key, feed-signing key, server certificate) are set aside in
 * DATA_DIR/previous-ROLE-TIMESTAMP/: left in place they would make a later promotion fail and mix two clusters' keys.
 */
export async function joinCluster(
  dataDir: string,
  bundle: ReplicaBundle,
  options: { force?: boolean } = {},
): Promise<{ store: Store; setAside: string | undefined }> {
  const exists = existsSync(join(dataDir, DATA_FILES.database));
  const store = exists ? await Store.open(dataDir) : await Store.create(dataDir);
  try {
    if (exists && !options.force) {
      const users = store.userCount();
      const head = store.head().seq;
      if (store.role === 'master' && (users > 0 || head > 0)) {
        throw new JoinRefusedError(
          `this node is a master with data (${users} users, change ${head}); joining replaces it with the master's data. Run again with --force if that is what you want`,
        );
      }
    }
    const files = new ClusterFiles(dataDir);
    const setAside = setAsideFiles(files.dir, Object.values(CLUSTER_FILES), dataDir, `previous-${store.role}`);
    files.write('caCert', bundle.ca_certificate);
    files.write('clientCert', bundle.client_certificate);
    files.write('clientKey', bundle.client_key);
    files.write('feedPublicKey', JSON.stringify(bundle.feed_public_key));
    store.setRole('replica', {
      cluster_id: bundle.cluster_id,
      master_url: bundle.master_url,
      replica_name: bundle.replica_name,
      // what this node knew of a former master does not carry over
      ...NO_RESYNC_REQUEST,
      ...NO_MASTER_CERTIFICATE,
    });
    return { store, setAside };
  } catch (err) {
    store.close();
    throw err;
  }
}
