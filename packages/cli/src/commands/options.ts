import { InvalidArgumentError, Option } from 'commander';
import { AUTH_MODES, type AuthMode } from '@otpgate/shared';
import { parseAttributeAssignment } from '@otpgate/core';

export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

export function integer(value: string): number {
  if (!/^-?\d+$/.test(value)) throw new InvalidArgumentError('not a whole number');
  return Number(value);
}

export const modeOption = () =>
  new Option('--mode <mode>', 'how this account logs in: inline (password+code), code-only, challenge, or default').choices([
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
