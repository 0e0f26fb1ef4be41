/**
 * Every error otpgate raises on purpose, in one place (as undici's lib/core/errors.js, jose's util/errors.ts and
 * fastify's lib/errors.js do): ERROR_CODES lists each stable code, OtpgateError and its subclasses carry one, and
 * errorMessage, errorCode and isCertificateError read any thrown value, whoever threw it (Node, a library, a thread).
 * Classes whose home is a package further up (LdapBackendError, MasterConnectionError...) extend OtpgateError there,
 * with a code from this list.
 */

/** The stable codes: tests, scripts, the admin UI and the API match on these, never on messages. */
export const ERROR_CODES = [
  // a person's input or request
  'invalid-input', // a value a person gave (CLI argument, form field, import row) cannot be used as it is
  'validation-failed', // a document (config file, settings, import) failed its schema; every problem is listed
  'not-found', // the named user, token, client... does not exist
  'conflict', // the change clashes with what is there (a name taken, a stale edit)
  'read-only-replica', // a change asked of a replica: it names the master
  'enrolment-refused', // a portal enrolment no longer allowed
  'input-too-large', // a request or field over its size limit (answered 413)
  'import-refused', // an import with error rows, nothing written
  'pskc-crypto', // a PSKC value that cannot be decrypted (algorithm, key, damage)
  'config-document', // not a config document otpgate reads
  'damaged-document', // a config document whose checksum fails
  'wrong-passphrase', // a config document's secrets do not decrypt with the passphrase
  // the node's own files and set-up
  'config-file', // the YAML config file cannot be read or parsed
  'key-file', // the node's key file (secret.key)
  'seal', // a sealed secret that does not open with the node's key
  'store', // a database that cannot be opened or used
  'store-busy', // another write (an import, a restore) holds the database longer than a request may wait
  'store-job', // a store thread that stopped before it finished
  'cluster-setup', // cluster files missing (not initialised, not joined)
  'cluster-key', // a feed key file that is not the cluster's Ed25519 key
  'backup', // a backup that could not be made
  'restore', // a restore that could not be done
  'backup-not-a-backup',
  'backup-unsupported-version',
  'backup-wrong-passphrase',
  'backup-damaged',
  'backup-weak-passphrase',
  // listening and logging
  'radius-bind', // a RADIUS address that cannot be listened on
  'ops-server', // the metrics and health server cannot listen
  'syslog-config', // a syslog target that cannot work
  'notify-config', // a notification channel that cannot work (a CA file that cannot be read)
  // password backends (LdapFailureKind, and the local backend's queue)
  'overloaded', // too many password checks waiting; the request is dropped, the NAS retries
  'ldap-unreachable',
  'ldap-timeout',
  'ldap-tls',
  'ldap-closed',
  'ldap-unavailable',
  'ldap-service-bind',
  'ldap-ambiguous',
  'ldap-pool-exhausted',
  'ldap-directory',
  'ldap-config',
  'ldap-closed-backend',
  // replication (FeedFailure, ConnectionFailure)
  'replication-data', // a change or snapshot record this node cannot apply
  'replication-refused', // the master's replication API refused a request (status and reason in the answer)
  'join-refused', // a replica bundle that cannot be joined here
  'feed-bad-signature',
  'feed-malformed',
  'feed-wrong-cluster',
  'feed-gap',
  'feed-chain-mismatch',
  'feed-tampered',
  'feed-replayed',
  'feed-incompatible',
  'feed-rollback-refused',
  'feed-resync-requested',
  'feed-too-large',
  'master-unreachable',
  'master-tls-verification',
  'master-refused',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

const KNOWN_CODES: ReadonlySet<string> = new Set(ERROR_CODES);

/** Whether `code` is one of otpgate's own (for an error that crossed a thread as plain data). */
export function isErrorCode(code: string): code is ErrorCode {
  return KNOWN_CODES.has(code);
}

/**
 * The base of every error otpgate raises on purpose. `code` is stable (tests, scripts and the API match on it);
 * `message` says what happened and what a person can do about it.
 */
export class OtpgateError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A value given by a person (CLI argument, API field, import row) that cannot be used as it is. */
export class InvalidInputError extends OtpgateError {
  constructor(message: string, readonly field?: string) {
    super('invalid-input', field ? `${field}: ${message}` : message);
  }
}

export class NotFoundError extends OtpgateError {
  constructor(what: string, name: string) {
    super('not-found', `${what} "${name}" does not exist`);
  }
}

export class ConflictError extends OtpgateError {
  constructor(message: string) {
    super('conflict', message);
  }
}

/** A change was asked of a read-only replica: it names the master where the change belongs. */
export class ReadOnlyReplicaError extends OtpgateError {
  constructor(readonly masterUrl: string) {
    super(
      'read-only-replica',
      `this node is a read-only replica; make changes on the master (${masterUrl}) and they will replicate here`,
    );
  }
}

/**
 * A token set up in the self-service portal that may no longer be added: the account, its tokens or the enrolment
 * rules changed since the user signed in (another session added a token, an admin disabled the account...).
 * `reason` is the rule that failed, for the log.
 */
export class EnrolmentRefusedError extends OtpgateError {
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super('enrolment-refused', message);
  }
}

/** A cluster key file (the feed-signing key, a replica's copy of its public half) that is not what it must be. */
export class ClusterKeyError extends OtpgateError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('cluster-key', message, options);
  }
}

/** The message of anything thrown (a non-Error is turned into text). */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The stack of anything thrown, for a log line about a defect; its text when it has none. */
export function errorStack(err: unknown): string {
  return err instanceof Error ? (err.stack ?? err.message) : String(err);
}

/** The errors of `err`'s cause chain, outermost first (bounded: a cause chain may loop). */
function* causeChain(err: unknown): Generator<object> {
  let e = err;
  for (let depth = 0; depth < 8 && typeof e === 'object' && e !== null; depth++) {
    yield e;
    e = (e as { cause?: unknown }).cause;
  }
}

/**
 * The first string `code` along `err`'s cause chain: an otpgate ErrorCode, or Node's and libraries' own (ENOENT,
 * UND_ERR_CONNECT_TIMEOUT...). undici's fetch, for one, throws a TypeError whose cause carries the code.
 */
export function errorCode(err: unknown): string | undefined {
  for (const e of causeChain(err)) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}

// OpenSSL's and Node's codes for a peer certificate this node refuses (wrong CA, expired, self-signed, wrong host)
const CERTIFICATE_CODE =
  /^(CERT_|UNABLE_TO_(GET|VERIFY|DECRYPT|DECODE)_|ERR_TLS_CERT_|ERROR_IN_CERT_)|^(DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|INVALID_CA|INVALID_PURPOSE|PATH_LENGTH_EXCEEDED|HOSTNAME_MISMATCH)$/;
// the subset where the chain leads to no CA this node trusts (rather than a certificate expired or for another host)
const UNTRUSTED_ISSUER_CODE = /^(UNABLE_TO_(GET_ISSUER_CERT|VERIFY_LEAF_SIGNATURE)|SELF_SIGNED_CERT_IN_CHAIN|DEPTH_ZERO_SELF_SIGNED_CERT|CERT_UNTRUSTED)/;

/**
 * The code saying the peer's certificate failed verification, found anywhere on `err`'s cause chain; undefined when
 * the failure was something else (unreachable, refused, timed out).
 */
export function certificateErrorCode(err: unknown): string | undefined {
  for (const e of causeChain(err)) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && CERTIFICATE_CODE.test(code)) return code;
  }
  return undefined;
}

/** Whether `err` says the peer's certificate failed verification (not that the peer was unreachable). */
export function isCertificateError(err: unknown): boolean {
  return certificateErrorCode(err) !== undefined;
}

/** Whether a certificate code means "issued by a CA this node does not trust": the fix is to add that CA. */
export function isUntrustedIssuer(code: string): boolean {
  return UNTRUSTED_ISSUER_CODE.test(code);
}
