/**
 * The base of every error otpgate raises on purpose. `code` is stable (tests, scripts and the API match on it);
 * `message` says what happened and what a person can do about it.
 */
export class OtpgateError extends Error {
  constructor(
    readonly code: string,
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
