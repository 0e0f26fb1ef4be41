import { randomBytes } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { OtpgateError, SEAL_KEY_BYTES, errorMessage, errorCode } from '@otpgate/shared';

export class KeyFileError extends OtpgateError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('key-file', message, options);
  }
}

/** Create the node's secret key (32 random bytes, hex, mode 0600); refuses to overwrite one. */
export function createKeyFile(path: string): Buffer {
  const key = randomBytes(SEAL_KEY_BYTES);
  try {
    writeFileSync(path, key.toString('hex') + '\n', { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if (errorCode(err) === 'EEXIST') throw new KeyFileError(`${path} already exists; not overwriting a key`);
    throw new KeyFileError(`cannot write key file ${path}: ${errorMessage(err)}`, { cause: err });
  }
  return key;
}

export function loadKeyFile(path: string): Buffer {
  let text: string;
  try {
    text = readFileSync(path, 'utf8').trim();
  } catch (err) {
    throw new KeyFileError(
      `cannot read key file ${path}: ${errorMessage(err)} (run "otpgate init" first, or check the file's owner)`,
      { cause: err },
    );
  }
  if (!/^[0-9a-f]{64}$/.test(text)) throw new KeyFileError(`${path} is not an otpgate key file (64 hex digits expected)`);
  if ((statSync(path).mode & 0o077) !== 0) {
    throw new KeyFileError(`${path} is readable by other users; run: chmod 600 ${path}`);
  }
  return Buffer.from(text, 'hex');
}
