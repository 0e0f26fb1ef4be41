import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';

/** CPU time (clock ticks) the machine spent busy, and that `pids` and this process (with its reaped children) used. */
function ticks(pids: number[]): { busy: number; ours: number } {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal ...: busy is all but idle and iowait
  const busy = fields.reduce((a, b) => a + b, 0) - fields[3]! - fields[4]!;
  const used = (pid: number | 'self', children: boolean) => {
    try {
      // the fields after the command's closing parenthesis: utime is the 12th, stime, cutime, cstime follow
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ').map(Number);
      return f[11]! + f[12]! + (children ? f[13]! + f[14]! : 0);
    } catch {
      return 0;
    }
  };
  return { busy, ours: used('self', true) + pids.reduce((sum, pid) => sum + used(pid, false), 0) };
}

/**
 * How much of the machine other work took while a test ran: the CPU the machine spent busy less what the test's own
 * processes used (the nodes given by pid, this process, and the commands it ran and reaped meanwhile), as a share of
 * every CPU over the time. For tests that judge speed only on a machine they had (mostly) to themselves.
 */
export class CpuShare {
  private readonly start: { busy: number; ours: number };
  private readonly startedAt = performance.now();

  constructor(private readonly pids: () => number[]) {
    this.start = ticks(pids());
  }

  /** Others' share of the machine since the start, 0..1. */
  others(): number {
    const now = ticks(this.pids());
    const seconds = (performance.now() - this.startedAt) / 1000;
    const hz = 100; // USER_HZ: /proc counts in hundredths of a second on Linux
    const others = (now.busy - this.start.busy - (now.ours - this.start.ours)) / hz;
    return Math.max(0, others / (seconds * cpus().length));
  }
}
