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
