import { describe, expect, it } from 'vitest';
import { splitCandidates } from '../src/auth/password-split.js';

describe('splitCandidates', () => {
  it('takes the trailing N digits as the code', () => {
    expect(splitCandidates('hunter2123456', [6])).toEqual([{ digits: 6, password: 'hunter2', code: '123456' }]);
  });

  it('offers one candidate per token length, shortest first, for a password ending in digits', () => {
    expect(splitCandidates('pass1212345678', [8, 6])).toEqual([
      { digits: 6, password: 'pass1212', code: '345678' },
      { digits: 8, password: 'pass12', code: '12345678' },
    ]);
  });

  it('skips a length whose tail is not all digits', () => {
    expect(splitCandidates('secret-x123456', [6, 8])).toEqual([{ digits: 6, password: 'secret-x', code: '123456' }]);
    expect(splitCandidates('secret12345a', [6])).toEqual([]);
    expect(splitCandidates('１２３４５６', [6])).toEqual([]); // full-width digits are not ASCII digits
  });

  it('gives an empty password for a bare code and nothing for input shorter than a code', () => {
    expect(splitCandidates('123456', [6])).toEqual([{ digits: 6, password: '', code: '123456' }]);
    expect(splitCandidates('12345', [6])).toEqual([]);
    expect(splitCandidates('', [6, 8])).toEqual([]);
    expect(splitCandidates('123456', [6, 8])).toEqual([{ digits: 6, password: '', code: '123456' }]);
  });

  it('counts each length once however many tokens have it', () => {
    expect(splitCandidates('pw123456', [6, 6, 6])).toHaveLength(1);
    expect(splitCandidates('pw123456', [])).toEqual([]);
  });

  it('keeps multi-byte characters of the password intact', () => {
    expect(splitCandidates('pässwörd🙂654321', [6])).toEqual([{ digits: 6, password: 'pässwörd🙂', code: '654321' }]);
  });
});
