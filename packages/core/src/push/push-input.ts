/**
 * What push mode reads from and shows to a RADIUS login: the password with "push" in place of the code, and the
 * number an Access-Challenge shows for number matching.
 */
import { randomInt } from 'node:crypto';

/** Typed in place of the code: asks for a push. In push mode a password's trailing "push" is read as this word. */
export const PUSH_WORD = 'push';

/** The password of a push-mode login: the input, less a trailing "push" (any case). */
export function pushPassword(input: string): string {
  return input.length > PUSH_WORD.length && input.slice(-PUSH_WORD.length).toLowerCase() === PUSH_WORD ? input.slice(0, -PUSH_WORD.length) : input;
}

/** A 2-digit number (10-99) for number matching. */
export function pushNumber(): string {
  return String(randomInt(10, 100));
}

/** The Access-Challenge's Reply-Message with number matching. */
export function pushPrompt(number: string): string {
  return `Approve this login on your portal and pick ${number}, then press Enter here`;
}
