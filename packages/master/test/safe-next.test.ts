import { describe, expect, it } from 'vitest';
import { safeNext } from '../src/web/safe-next.js';

describe('safeNext (where sign-in continues to)', () => {
  it('keeps a path on this site, query included', () => {
    expect(safeNext('/users')).toBe('/users');
    expect(safeNext('/users/bob?tab=tokens')).toBe('/users/bob?tab=tokens');
    expect(safeNext('/')).toBe('/');
  });

  it.each([
    ['missing', undefined],
    ['empty', ''],
    ['absolute URL', 'https://evil.example/'],
    ['protocol-relative', '//evil.example'],
    ['backslash after the slash', '/\\evil.example'],
    ['backslash later', '/users\\..\\\\evil.example'],
    ['tab before a second slash', '/\t/evil.example'],
    ['newline', '/\n/evil.example'],
    ['DEL', '/\u007f/evil.example'],
    ['relative path', 'users'],
    ['javascript URL', 'javascript:alert(1)'],
  ])('sends %s to the start page', (_label, next) => {
    expect(safeNext(next)).toBe('/');
  });

  it('uses the given fallback instead of the start page', () => {
    expect(safeNext('//evil.example', '/users/bob')).toBe('/users/bob');
    expect(safeNext('/groups', '/users/bob')).toBe('/groups');
  });
});
