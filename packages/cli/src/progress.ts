/**
 * A progress bar on stderr for long imports: redrawn in place on a terminal (at most ten times a second), a line
 * per tenth elsewhere when asked for. Never on stdout, which stays the command's own output.
 */
export interface Progress {
  update(phase: string, done: number, total: number): void;
  finish(): void;
}

const WIDTH = 30;

export function progressBar(options: { force?: boolean; stream?: NodeJS.WriteStream } = {}): Progress {
  const stream = options.stream ?? process.stderr;
  const tty = stream.isTTY === true;
  if (!tty && !options.force) return { update: () => undefined, finish: () => undefined };
  let last = 0;
  let lastTenth = -1;
  let drawn = false;
  return {
    update(phase, done, total) {
      const fraction = total === 0 ? 1 : Math.min(1, done / total);
      if (tty) {
        const now = Date.now();
        if (now - last < 100 && done < total) return;
        last = now;
        const filled = Math.round(fraction * WIDTH);
        stream.write(`\r${phase.padEnd(8)} [${'#'.repeat(filled)}${'-'.repeat(WIDTH - filled)}] ${String(Math.floor(fraction * 100)).padStart(3)}%  ${done}/${total}`);
        drawn = true;
      } else {
        const tenth = Math.floor(fraction * 10);
        if (tenth === lastTenth) return;
        lastTenth = tenth;
        stream.write(`${phase}: ${tenth * 10}% (${done}/${total})\n`);
      }
    },
    finish() {
      if (drawn) stream.write('\n');
      drawn = false;
    },
  };
}
