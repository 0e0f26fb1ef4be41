import { OtpgateError, certificateErrorCode, errorCode, isUntrustedIssuer } from '@otpgate/shared';

/**
 * Why the LDAP backend could not answer. `failover` kinds are about one server (try the next one and remember it as
 * down); the others would fail the same way on every server (settings, directory content).
 */
export type LdapFailureKind =
  | 'unreachable' // TCP connect refused/failed, DNS
  | 'timeout' // connect or operation took longer than the configured limit
  | 'tls' // handshake or certificate verification failed
  | 'closed' // the server dropped the connection mid-operation
  | 'unavailable' // the server answered busy/unavailable
  | 'service-bind' // the service account's bind was refused
  | 'ambiguous' // the user filter matched more than one entry
  | 'pool-exhausted' // every connection stayed busy for timeout_ms
  | 'directory' // any other LDAP result code
  | 'config' // settings that cannot work (bad filter template)
  | 'closed-backend'; // close() was called

const FAILOVER_KINDS: ReadonlySet<LdapFailureKind> = new Set(['unreachable', 'timeout', 'tls', 'closed', 'unavailable']);

export class LdapBackendError extends OtpgateError {
  readonly failover: boolean;

  constructor(
    readonly kind: LdapFailureKind,
    message: string,
    readonly server?: string,
    options?: { cause?: unknown },
  ) {
    super(`ldap-${kind}`, server ? `${server}: ${message}` : message, options);
    this.failover = FAILOVER_KINDS.has(kind);
  }
}

/** Result code names (RFC 4511 §4.1.9) for messages an admin can look up. */
const RESULT_NAMES: Readonly<Record<number, string>> = {
  1: 'operationsError',
  2: 'protocolError',
  3: 'timeLimitExceeded',
  4: 'sizeLimitExceeded',
  7: 'authMethodNotSupported',
  8: 'strongerAuthRequired',
  11: 'adminLimitExceeded',
  13: 'confidentialityRequired',
  19: 'constraintViolation',
  32: 'noSuchObject',
  34: 'invalidDNSyntax',
  48: 'inappropriateAuthentication',
  49: 'invalidCredentials',
  50: 'insufficientAccessRights',
  51: 'busy',
  52: 'unavailable',
  53: 'unwillingToPerform',
  80: 'other',
};

/** An LDAP result the server sent (as opposed to a transport failure). */
export interface LdapResult {
  code: number;
  /** The server's diagnosticMessage, verbatim (AD puts its sub-code here). */
  diagnostic: string;
}

/** The result code and diagnostic of an ldapts ResultCodeError, or null for any other error. */
export function ldapResultOf(err: unknown): LdapResult | null {
  if (!(err instanceof Error)) return null;
  const code = (err as { code?: unknown }).code;
  if (typeof code !== 'number') return null;
  // ldapts appends " Code: 0x31" to the server's diagnostic message; its default text stands in for an empty one
  return { code, diagnostic: err.message.replace(/\s*Code: 0x[0-9a-f]+$/i, '').trim() };
}

export function describeResult(r: LdapResult): string {
  const name = RESULT_NAMES[r.code] ?? 'result';
  return `${name} (${r.code})${r.diagnostic ? `: ${r.diagnostic}` : ''}`;
}

// a TLS failure that is not about the certificate (handshake, protocol version, cipher)
const TLS_HANDSHAKE_CODE = /^(ERR_TLS_|ERR_SSL_|ERR_OSSL)/;
const NETWORK_CODES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EADDRNOTAVAIL']);
const CLOSED_CODES = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED']);

/** Turns whatever ldapts or the socket threw into a typed error with a message an admin can act on. */
export function classifyLdapError(err: unknown, server: string, what: string): LdapBackendError {
  if (err instanceof LdapBackendError) {
    return err.server || !server ? err : new LdapBackendError(err.kind, `${what}: ${err.message}`, server, { cause: err });
  }
  const result = ldapResultOf(err);
  if (result) {
    const kind = result.code === 51 || result.code === 52 ? 'unavailable' : 'directory';
    const hint =
      result.code === 13 || result.code === 8
        ? ' — the server requires TLS: use an ldaps:// URL or set start_tls'
        : result.code === 32
          ? ' — check the base DN in the settings'
          : '';
    return new LdapBackendError(kind, `${what}: ${describeResult(result)}${hint}`, server, { cause: err });
  }
  const e = err instanceof Error ? err : new Error(String(err));
  const code = errorCode(e) ?? '';
  if (NETWORK_CODES.has(code)) {
    return new LdapBackendError('unreachable', `${what}: cannot connect (${code}: ${e.message})`, server, { cause: err });
  }
  if (code === 'ETIMEDOUT' || /timed? ?out/i.test(e.message)) {
    return new LdapBackendError('timeout', `${what}: no answer in time (${e.message})`, server, { cause: err });
  }
  if (certificateErrorCode(e) !== undefined || TLS_HANDSHAKE_CODE.test(code) || /certificate|tls|ssl|altnames/i.test(e.message)) {
    const hint =
      code === 'ERR_TLS_CERT_ALTNAME_INVALID'
        ? ' — the URL host name must be in the certificate (subjectAltName)'
        : isUntrustedIssuer(code)
          ? ' — add the issuing CA to ca_certificates'
          : CLOSED_CODES.has(code)
            ? ' — the server hung up during the handshake: check that this port speaks TLS (ldaps:// is usually 636)'
            : '';
    return new LdapBackendError('tls', `${what}: TLS failed (${code || 'handshake'}: ${e.message})${hint}`, server, { cause: err });
  }
  if (CLOSED_CODES.has(code) || /closed|socket|not reconnecting|not established/i.test(e.message)) {
    return new LdapBackendError('closed', `${what}: connection lost (${code ? `${code}: ` : ''}${e.message})`, server, { cause: err });
  }
  return new LdapBackendError('directory', `${what}: ${e.message}`, server, { cause: err });
}
