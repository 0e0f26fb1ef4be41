/**
 * TLS for every connection a replica makes to its master: the feed, the step reports, and the RADIUS threads' claims
 * and VPN credential checks. One rule for all of them, so no channel trusts a certificate another one refuses.
 */
import { checkServerIdentity, createSecureContext, type ConnectionOptions, type PeerCertificate } from 'node:tls';
import { ClusterFiles } from '../store/cluster-files.js';
import type { Store } from '../store/store.js';

/** node_meta: the newest notBefore (ms) of a master certificate this replica has accepted. */
const NEWEST_CERTIFICATE = 'master_certificate_not_before';

/**
 * The pinned cluster CA and this replica's client certificate, never relaxed, in one secure context (parsed once, not
 * per connection); and no certificate older than the newest one the master has presented. `otpgate cluster
 * renew-certificate` gives the master a certificate issued later: once a replica has seen it, the old one (same CA,
 * still valid, perhaps in a copy set aside or on a retired host) is refused.
 */
export function masterTlsOptions(store: Store): ConnectionOptions {
  const files = new ClusterFiles(store.dataDir);
  return {
    secureContext: createSecureContext({ ca: files.read('caCert'), cert: files.read('clientCert'), key: files.read('clientKey'), minVersion: 'TLSv1.2' }),
    rejectUnauthorized: true,
    // called once the chain verified: only certificates of the cluster CA get here
    checkServerIdentity: (host, cert) => checkServerIdentity(host, cert) ?? retiredCertificate(store, cert),
  };
}

function retiredCertificate(store: Store, cert: PeerCertificate): Error | undefined {
  const issued = Date.parse(cert.valid_from);
  const newest = Number(store.getMeta(NEWEST_CERTIFICATE) ?? 0);
  if (issued < newest) {
    return Object.assign(
      new Error(
        `certificate ${cert.serialNumber}, issued ${new Date(issued).toISOString()}, is older than the one the master has presented since ` +
          `(issued ${new Date(newest).toISOString()}): it was replaced by "otpgate cluster renew-certificate" and is no longer the master's`,
      ),
      { code: 'ERR_TLS_CERT_RETIRED' },
    );
  }
  // noted when the lock is free (a RADIUS thread must not wait for an import): the next handshake notes it otherwise
  if (issued > newest) store.db.tryWrite(() => store.setMeta(NEWEST_CERTIFICATE, String(issued)));
  return undefined;
}

/** A replica joining a (new) master starts without a newest certificate (Store.updateMeta). */
export const NO_MASTER_CERTIFICATE = { [NEWEST_CERTIFICATE]: undefined };
