import { describe, expect, it } from 'vitest';
import { CERTIFICATE_WARNING_DAYS } from '@otpgate/master';
import { formatTime } from '@otpgate/shared';
import { expiryWarning } from '../src/admin-certificate.js';
import { table } from '../src/output.js';
import { progressBar } from '../src/progress.js';

describe('table', () => {
  it('aligns every column but the last to its widest cell, two spaces apart, and writes null as "-"', () => {
    expect(table(['NAME', 'ID', 'NOTE'], [['alice', 1, 'first'], ['bob', null, null], ['carol-long', 300, true]])).toBe(
      ['NAME        ID   NOTE', 'alice       1    first', 'bob         -    -', 'carol-long  300  true'].join('\n'),
    );
  });

  it('is the header line alone when there are no rows', () => {
    expect(table(['A', 'B'], [])).toBe('A  B');
  });
});

describe('formatTime, as the tables and messages show times', () => {
  it('is ISO 8601 in UTC to the second, "-" for none', () => {
    expect(formatTime(Date.UTC(2026, 11, 3, 15, 8, 58, 123))).toBe('2026-12-03T15:08:58Z');
    expect([formatTime(null), formatTime(undefined)]).toEqual(['-', '-']);
  });
});

describe('expiryWarning', () => {
  const day = 86_400_000;
  it('says nothing while the admin UI certificate has time left', () => {
    expect(expiryWarning({ validTo: Date.now() + 90 * day, daysLeft: 90 }, CERTIFICATE_WARNING_DAYS)).toBeUndefined();
    expect(expiryWarning({ validTo: Date.now() + CERTIFICATE_WARNING_DAYS * day, daysLeft: CERTIFICATE_WARNING_DAYS }, CERTIFICATE_WARNING_DAYS)).toBeUndefined();
  });

  it('warns with the date and the command to run when it expires soon, or has expired', () => {
    const soon = Date.now() + 5 * day;
    expect(expiryWarning({ validTo: soon, daysLeft: 5 }, CERTIFICATE_WARNING_DAYS)).toBe(
      `WARNING: the admin UI certificate expires in 5 days (${formatTime(soon)}); browsers will refuse it: install a new one with "otpgate admin set-certificate"`,
    );
    const gone = Date.UTC(2020, 0, 1);
    expect(expiryWarning({ validTo: gone, daysLeft: -2000 }, CERTIFICATE_WARNING_DAYS)).toMatch(/^WARNING: the admin UI certificate expired on 2020-01-01T00:00:00Z; /);
  });
});

describe('progressBar', () => {
  /** A stream that keeps what it is given; `isTTY` as a terminal or a pipe would say. */
  function sink(isTTY: boolean) {
    const written: string[] = [];
    return { written, stream: { isTTY, write: (s: string) => written.push(s) > 0 } as unknown as NodeJS.WriteStream };
  }

  it('writes nothing to a pipe unless asked', () => {
    const s = sink(false);
    const bar = progressBar({ stream: s.stream });
    bar.update('import', 5, 10);
    bar.finish();
    expect(s.written).toEqual([]);
  });

  it('writes a line each tenth to a pipe when forced, never the same tenth twice', () => {
    const s = sink(false);
    const bar = progressBar({ stream: s.stream, force: true });
    for (const done of [0, 1, 5, 10, 11, 19, 20, 200]) bar.update('import', done, 200);
    bar.finish();
    expect(s.written).toEqual(['import: 0% (0/200)\n', 'import: 10% (20/200)\n', 'import: 100% (200/200)\n']);
  });

  it('draws one bar in place on a terminal, always the last state, and ends the line when finished', () => {
    const s = sink(true);
    const bar = progressBar({ stream: s.stream });
    bar.update('write', 10, 10);
    bar.finish();
    expect(s.written).toEqual([`\rwrite    [${'#'.repeat(30)}] 100%  10/10`, '\n']);
  });

  it('counts an empty job as done', () => {
    const s = sink(false);
    progressBar({ stream: s.stream, force: true }).update('import', 0, 0);
    expect(s.written).toEqual(['import: 100% (0/0)\n']);
  });
});
