import { describe, expect, it } from 'vitest';
import { ERROR_CODES, NotFoundError, OtpgateError, certificateErrorCode, errorCode, errorMessage, isCertificateError, isErrorCode, isUntrustedIssuer } from '@otpgate/shared';

const withCode = (message: string, code: string, cause?: unknown) => Object.assign(new Error(message, { cause }), { code });

describe('the error vocabulary', () => {
  it('lists every code once', () => {
    expect(new Set(ERROR_CODES).size).toBe(ERROR_CODES.length);
    expect(isErrorCode('not-found')).toBe(true);
    expect(isErrorCode('ENOENT')).toBe(false);
  });

  it('reads the message of anything thrown', () => {
    expect(errorMessage(new NotFoundError('user', 'alice'))).toBe('user "alice" does not exist');
    expect(errorMessage('a string')).toBe('a string');
    expect(errorMessage(undefined)).toBe('undefined');
  });

  it('finds the first code along the cause chain, as undici fetch nests it', () => {
    expect(errorCode(new NotFoundError('user', 'alice'))).toBe('not-found');
    expect(errorCode(new TypeError('fetch failed', { cause: withCode('connect ECONNREFUSED', 'ECONNREFUSED') }))).toBe('ECONNREFUSED');
    expect(errorCode(new Error('plain'))).toBeUndefined();
    expect(errorCode(null)).toBeUndefined();
    const loop: { code?: string; cause?: unknown } = {};
    loop.cause = loop;
    expect(errorCode(loop)).toBeUndefined();
  });

  it('tells a refused certificate from an unreachable peer, wherever on the chain its code is', () => {
    const wrapped = new OtpgateError('master-unreachable', 'request failed', { cause: withCode('unable to verify', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE') });
    expect(certificateErrorCode(wrapped)).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    expect(isCertificateError(withCode('expired', 'CERT_HAS_EXPIRED'))).toBe(true);
    expect(isCertificateError(withCode('altname', 'ERR_TLS_CERT_ALTNAME_INVALID'))).toBe(true);
    expect(isCertificateError(withCode('refused', 'ECONNREFUSED'))).toBe(false);
    expect(isCertificateError('UNABLE_TO_VERIFY_LEAF_SIGNATURE')).toBe(false);
    expect(isUntrustedIssuer('UNABLE_TO_GET_ISSUER_CERT_LOCALLY')).toBe(true);
    expect(isUntrustedIssuer('CERT_HAS_EXPIRED')).toBe(false);
  });
});
