import { checkServerIdentity, type ConnectionOptions, type PeerCertificate } from 'node:tls';
import { ClusterFiles, type Store } from '@otpgate/core';
import { OtpgateError, certificateErrorCode, errorCode, errorMessage } from '@otpgate/shared';

/** Why a request to the master got no usable answer, as the feed-failure metric's reason label says it. */
export type ConnectionFailure = 'unreachable' | 'tls-verification' | 'refused';

/** A request to the master that failed before any feed document came back. */
export class MasterConnectionError extends OtpgateError {
  constructor(
    readonly reason: ConnectionFailure,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`master-${reason}`, message, options);
  }
}

/**
 * Classify a failed request: a certificate that fails verification is told apart from an unreachable master,
 * because it means something other than the master answered (or the master's certificate needs renewing).
 */
export function connectionError(masterUrl: string, err: unknown): MasterConnectionError {
  // undici wraps the socket's error: its message says more than the wrapper's
  const inner = err instanceof Error && err.cause instanceof Error ? err.cause : err;
  const message = errorMessage(inner);
  const certificate = certificateErrorCode(err);
  if (certificate !== undefined) {
    return new MasterConnectionError(
      'tls-verification',
      `the certificate presented as the master at ${masterUrl} fails verification (${certificate}: ${message}); not the master ` +
        'signed by this cluster\'s CA (a man in the middle?), or the master\'s certificate needs renewing ("otpgate cluster renew-certificate" there)',
      { cause: err },
    );
  }
  return new MasterConnectionError('unreachable', `cannot reach the master at ${masterUrl}: ${errorCode(err) ?? ''} ${message}`.trim(), { cause: err });
}

/** node_meta: the newest notBefore (ms) of a master certificate this replica has accepted. */
const NEWEST_CERTIFICATE = 'master_certificate_not_before';

/**
 * TLS options for every connection to the master (the feed and the step reports): the pinned cluster CA, this
 * replica's client certificate, never relaxed; and no certificate older than the newest one the master has presented.
 * `otpgate cluster renew-certificate` gives the master a certificate issued later: once a replica has seen it, the old
 * one (same CA, still valid, perhaps in a copy set aside or on a retired host) is refused.
 */
export function masterTlsOptions(store: Store): ConnectionOptions {
  const files = new ClusterFiles(store.dataDir);
  return {
    ca: files.read('caCert'),
    cert: files.read('clientCert'),
    key: files.read('clientKey'),
    rejectUnauthorized: true,
    minVersion: 'TLSv1.2',
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
  if (issued > newest) store.setMeta(NEWEST_CERTIFICATE, String(issued));
  return undefined;
}

/** A replica joining a (new) master starts without a newest certificate (Store.updateMeta). */
export const NO_MASTER_CERTIFICATE = { [NEWEST_CERTIFICATE]: undefined };
