import { OtpgateError } from '@otpgate/shared';

/** The file is not a config document otpgate can read (not JSON, another format, a version from the future). */
export class ConfigDocumentError extends OtpgateError {
  constructor(message: string) {
    super('config-document', message);
  }
}

/** The checksum does not match: the file changed after export (edited, truncated, corrupted in transit). */
export class DamagedDocumentError extends OtpgateError {
  constructor(detail: string) {
    super('damaged-document', `the config document is damaged: ${detail}. Nothing was imported; use an intact copy of the export`);
  }
}

/** The secrets do not decrypt with the passphrase given. */
export class WrongPassphraseError extends OtpgateError {
  constructor() {
    super(
      'wrong-passphrase',
      'wrong passphrase: the secrets in the config document do not decrypt with it (the checksum is intact, so the file is not damaged). Nothing was imported',
    );
  }
}
