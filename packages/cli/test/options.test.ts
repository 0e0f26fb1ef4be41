import { InvalidArgumentError } from 'commander';
import { describe, expect, it } from 'vitest';
import { InvalidInputError } from '@otpgate/shared';
import { attributesValue, collect, integer, integerOrDefault, modeValue, positiveInteger } from '../src/commands/options.js';

describe('the command line\'s value parsers', () => {
  it('take whole numbers written as such, and refuse anything else with a message commander prints', () => {
    expect([integer('0'), integer('-5'), integer('42')]).toEqual([0, -5, 42]);
    for (const bad of ['', '1.5', '1e3', '0x10', ' 7', '7 ', 'seven', '9007199254740993']) {
      expect(() => integer(bad), bad).toThrow(InvalidArgumentError);
    }
    expect(() => integer('x')).toThrow('expected a whole number');
  });

  it('positiveInteger refuses zero and below', () => {
    expect(positiveInteger('1')).toBe(1);
    expect(() => positiveInteger('0')).toThrow('expected a whole number of at least 1');
    expect(() => positiveInteger('-3')).toThrow(InvalidArgumentError);
  });

  it('integerOrDefault: "default" stays the word (commander would turn null into ""), else a whole number', () => {
    expect(integerOrDefault('default')).toBe('default');
    expect(integerOrDefault('3')).toBe(3);
    expect(() => integerOrDefault('Default')).toThrow('expected a whole number or "default"');
  });

  it('modeValue: absent stays absent, "default" clears, a mode is kept', () => {
    expect(modeValue(undefined)).toBeUndefined();
    expect(modeValue('default')).toBeNull();
    expect(modeValue('challenge')).toBe('challenge');
  });

  it('repeated --attr options collect in order, and each is read as Name=value', () => {
    const list = collect('Class=b', collect('Filter-Id=vpn'));
    expect(list).toEqual(['Filter-Id=vpn', 'Class=b']);
    expect(attributesValue(list)).toEqual([{ name: 'Filter-Id', value: 'vpn' }, { name: 'Class', value: 'b' }]);
    expect(attributesValue([' Reply-Message = "hello there" '])).toEqual([{ name: 'Reply-Message', value: 'hello there' }]);
    expect(attributesValue(undefined)).toBeUndefined();
    expect(() => attributesValue(['Filter-Id'])).toThrow(InvalidInputError);
  });
});
