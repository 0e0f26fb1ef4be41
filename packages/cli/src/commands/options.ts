import { InvalidArgumentError, Option } from 'commander';
import { AUTH_MODES, type AuthMode } from '@otpgate/shared';
import { parseAttributeAssignment } from '@otpgate/core';

export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/**
 * Parsers for commander's .argument()/.option(): commander prints their message with the argument's name and exits 2.
 * Never call them inside an action, where nothing would print it.
 */
export function integer(value: string): number {
  const n = Number(value);
  if (!/^-?\d+$/.test(value) || !Number.isSafeInteger(n)) throw new InvalidArgumentError('expected a whole number');
  return n;
}

export function positiveInteger(value: string): number {
  const n = integer(value);
  if (n < 1) throw new InvalidArgumentError('expected a whole number of at least 1');
  return n;
}

/**
 * A whole number, or "default" to clear a per-item value so the setting applies (kept as the word: commander turns a
 * parser's null into an empty string).
 */
export function integerOrDefault(value: string): number | 'default' {
  if (value === 'default') return 'default';
  if (!/^-?\d+$/.test(value)) throw new InvalidArgumentError('expected a whole number or "default"');
  return integer(value);
}

export const modeOption = () =>
  new Option('--mode <mode>', 'how this account logs in: inline (password+code), code-only, challenge, push (approval on the portal), or default').choices([
    ...AUTH_MODES,
    'default',
  ]);

/** "default" clears a per-user or per-client mode so the setting above it applies. */
export function modeValue(mode: string | undefined): AuthMode | null | undefined {
  if (mode === undefined) return undefined;
  return mode === 'default' ? null : (mode as AuthMode);
}

export const attrOption = () => new Option('--attr <name=value>', 'reply attribute, e.g. Filter-Id=vpn (repeat for more)').argParser(collect);

export function attributesValue(list: string[] | undefined) {
  return list?.map(parseAttributeAssignment);
}
