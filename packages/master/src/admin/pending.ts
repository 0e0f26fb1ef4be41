import { randomBytes } from 'node:crypto';
import { InvalidInputError, OtpgateError } from '@otpgate/shared';
import type { AdminSession } from './sign-in.js';

/** One previewed piece of work, with the id its commit form sends back. */
export interface Pending<T> {
  id: string;
  at: number;
  value: T;
}

/**
 * What an admin previewed and may commit next (an import, a config document), kept on the server with the admin's
 * session and forgotten with it: the file is never sent to the browser and back. One per kind and session; the
 * commit form carries the id of the preview it showed, so a page left open in another tab cannot commit a newer
 * upload it never displayed.
 */
export class PendingStore<T> {
  private readonly items = new WeakMap<AdminSession, Pending<T>>();

  constructor(private readonly what: string) {}

  put(session: AdminSession, value: T): Pending<T> {
    const item = { id: randomBytes(12).toString('base64url'), at: Date.now(), value };
    this.items.set(session, item);
    return item;
  }

  get(session: AdminSession): Pending<T> | undefined {
    return this.items.get(session);
  }

  /** The preview the form showed, or why it cannot be committed. */
  current(session: AdminSession, id: string): Pending<T> {
    const item = this.items.get(session);
    if (!item) throw new InvalidInputError(`there is no ${this.what} waiting in your session (committed already, discarded, or you signed in again): upload the file again`);
    if (item.id !== id) throw new InvalidInputError(`this is not the ${this.what} you have waiting (a newer upload replaced it, in another tab?): review that one, then commit it`);
    return item;
  }

  clear(session: AdminSession): void {
    this.items.delete(session);
  }
}

/** The core's messages name the CLI's options; on a web page they name the form's fields. */
const CLI_HINTS: ReadonlyArray<readonly [string, string]> = [
  ['(--passphrase-stdin)', '(the passphrase field)'],
  ['(--psk-hex-stdin)', '(the pre-shared key field)'],
];

export async function inWebTerms<T>(run: () => T | Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (!(err instanceof OtpgateError) || !CLI_HINTS.some(([cli]) => err.message.includes(cli))) throw err;
    const message = CLI_HINTS.reduce((text, [cli, web]) => text.replaceAll(cli, web), err.message);
    throw new OtpgateError(err.code, message, { cause: err });
  }
}
