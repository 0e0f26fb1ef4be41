/** Why a request to the master got no usable answer, as the feed-failure metric's reason label says it. */
export type ConnectionFailure = 'unreachable' | 'tls-verification' | 'refused';

/** A request to the master that failed before any feed document came back. */
export class MasterConnectionError extends Error {
  constructor(
    readonly reason: ConnectionFailure,
    message: string,
  ) {
    super(message);
  }
}

// OpenSSL's and Node's codes for a server certificate this node refuses (wrong CA, expired, self-signed, wrong host)
const CERTIFICATE_CODE =
  /^(CERT_|UNABLE_TO_(GET|VERIFY|DECRYPT|DECODE)_|ERR_TLS_CERT_|ERROR_IN_CERT_)|^(DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|INVALID_CA|INVALID_PURPOSE|PATH_LENGTH_EXCEEDED|HOSTNAME_MISMATCH)$/;

/** Whether an error code says the peer's certificate failed verification (not that the peer was unreachable). */
export function isCertificateError(code: string | undefined): boolean {
  return code !== undefined && CERTIFICATE_CODE.test(code);
}

/**
 * Classify a failed request: a certificate that fails verification is told apart from an unreachable master,
 * because it means something other than the master answered (or the master's certificate needs renewing).
 */
export function connectionError(masterUrl: string, err: unknown): MasterConnectionError {
  const e = err as Error & { code?: string; cause?: { code?: string; message?: string } };
  const code = e.cause?.code ?? e.code;
  const message = e.cause?.message ?? e.message;
  if (isCertificateError(code)) {
    return new MasterConnectionError(
      'tls-verification',
      `the certificate presented as the master at ${masterUrl} fails verification (${code}: ${message}); not the master ` +
        'signed by this cluster\'s CA (a man in the middle?), or the master\'s certificate needs renewing ("otpgate cluster renew-certificate" there)',
    );
  }
  return new MasterConnectionError('unreachable', `cannot reach the master at ${masterUrl}: ${code ?? ''} ${message}`.trim());
}
