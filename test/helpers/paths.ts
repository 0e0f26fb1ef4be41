import { mkdirSync, mkdtempSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CLI_PATH = join(REPO_ROOT, 'packages', 'cli', 'dist', 'main.js');
/** Logs, screenshots and node folders the suite leaves for inspection (ignored by git). */
export const OUTPUT_DIR = join(REPO_ROOT, 'test-output');

export function scratchDir(name: string): string {
  const base = join(OUTPUT_DIR, 'nodes');
  mkdirSync(base, { recursive: true });
  return mkdtempSync(join(base, `${name}-`));
}
