import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { VERSION } from '@otpgate/core';
import { run } from '../src/program.js';

/** What the command printed: commander and `run` write to the process's own streams. */
let out: string;
let err: string;
beforeEach(() => {
  out = '';
  err = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => ((out += String(s)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => ((err += String(s)), true));
});
afterEach(() => vi.restoreAllMocks());

describe('otpgate\'s exit codes for what it cannot run (no config is read for these)', () => {
  it('prints the version and exits 0', async () => {
    expect(await run(['--version'])).toBe(0);
    expect(out).toBe(`${VERSION}\n`);
  });

  it('exits 2 for an unknown command, naming it and pointing at --help', async () => {
    expect(await run(['userz', 'list'])).toBe(2);
    expect(err).toContain("unknown command 'userz'");
    expect(err).toContain('(run with --help for usage)');
  });

  it('exits 2 for a bad option value, with the parser\'s reason, before any action runs', async () => {
    expect(await run(['-c', '/nonexistent/otpgate.yaml', 'authlog', '--limit', '0'])).toBe(2);
    expect(err).toContain("option '--limit <n>' argument '0' is invalid. expected a whole number of at least 1");
    expect(await run(['-c', '/nonexistent/otpgate.yaml', 'authlog', '--result', 'maybe'])).toBe(2);
    expect(err).toContain('Allowed choices are accept, reject, challenge, drop');
  });

  it('exits 1 with one sentence, no stack, for an input it refuses', async () => {
    expect(await run(['-c', '/nonexistent/otpgate.yaml', 'authlog'])).toBe(1);
    expect(err).toMatch(/^otpgate: .*\/nonexistent\/otpgate\.yaml/);
    expect(err).not.toContain('    at ');
  });
});
