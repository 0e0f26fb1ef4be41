import { existsSync, mkdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Move those of `names` that exist in `dir` into a new folder `parent/LABEL-TIMESTAMP/`, never deleting them (keys of
 * a node's former role may still be wanted); returns that folder, or undefined when there was nothing to move.
 */
export function setAsideFiles(dir: string, names: readonly string[], parent: string, label: string, now = new Date()): string | undefined {
  const present = names.filter((name) => existsSync(join(dir, name)));
  if (present.length === 0) return undefined;
  const target = join(parent, `${label}-${now.toISOString().replace(/[:.]/g, '-')}`);
  mkdirSync(target, { mode: 0o700 });
  for (const name of present) renameSync(join(dir, name), join(target, name));
  return target;
}
