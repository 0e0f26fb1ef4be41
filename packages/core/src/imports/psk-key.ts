import { InvalidInputError } from '@otpgate/shared';

/**
 * A PSKC pre-shared key typed in hex (the CLI's --psk-hex-stdin, the admin UI's import form): an AES-128, -192 or
 * -256 key, with or without a leading 0x.
 */
export function pskFromHex(text: string): Buffer {
  const hex = text.trim().replace(/^0x/i, '');
  if (!/^(?:[0-9a-f]{32}|[0-9a-f]{48}|[0-9a-f]{64})$/i.test(hex)) {
    throw new InvalidInputError('expected 32, 48 or 64 hex digits (an AES-128, -192 or -256 key)', 'pre-shared key');
  }
  return Buffer.from(hex, 'hex');
}
