/**
 * Real `otpgate serve` processes for the bench drivers that run a cluster (soak.ts, bulk-import.ts): each node in a
 * folder of its own with its config and log (serve.log), started, killed (kill -9) and restarted as an operator
 * would; the otpgate command run beside them without blocking the driver's load.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The otpgate command (CLI: its main.js), to completion. */
export function og(cli: string, config: string, args: string[], input = ''): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cli, '-c', config, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input);
  });
}

export async function ogOk(cli: string, config: string, args: string[], input = ''): Promise<string> {
  const r = await og(cli, config, args, input);
  if (r.code !== 0) throw new Error(`otpgate ${args.join(' ')}: ${r.stderr || r.stdout}`);
  return r.stdout;
}

export class BenchNode {
  proc: ChildProcess | undefined;
  readonly config: string;
  readonly log: string;
  /** Times (performance.now()) the node was down: from its kill to its start line. */
  readonly down: Array<[number, number]> = [];

  constructor(
    readonly cli: string,
    readonly name: string,
    readonly dir: string,
    readonly port: number,
  ) {
    mkdirSync(dir, { recursive: true });
    this.config = join(dir, 'otpgate.yaml');
    this.log = join(dir, 'serve.log');
  }

  /** This node's otpgate command. */
  ogOk(args: string[], input = ''): Promise<string> {
    return ogOk(this.cli, this.config, args, input);
  }

  /** Start `otpgate serve` (NODE_OPTIONS-like `nodeArgs` first, e.g. --cpu-prof) and wait for its start line. */
  async start(nodeArgs: string[] = []): Promise<void> {
    const from = existsSync(this.log) ? statSync(this.log).size : 0;
    const fd = openSync(this.log, 'a');
    this.proc = spawn(process.execPath, [...nodeArgs, this.cli, '-c', this.config, 'serve'], { stdio: ['ignore', fd, fd] });
    closeSync(fd);
    for (let i = 0; i < 1200; i++) {
      if (readFileSync(this.log).subarray(from).includes('"otpgate node started"')) return;
      if (this.proc.exitCode !== null) break;
      await sleep(100);
    }
    throw new Error(`${this.name} did not start; see ${this.log}`);
  }

  async kill9(): Promise<void> {
    const proc = this.proc!;
    this.down.push([performance.now(), Infinity]);
    await new Promise<void>((resolve) => {
      proc.once('exit', () => resolve());
      proc.kill('SIGKILL');
    });
  }

  async restart(): Promise<void> {
    await this.start();
    this.down.at(-1)![1] = performance.now();
  }

  async stop(): Promise<void> {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      proc.once('exit', () => resolve());
      proc.kill('SIGTERM');
    });
  }

  /** Whether the node was down at some moment of [from, to]. */
  downDuring(from: number, to: number): boolean {
    return this.down.some(([a, b]) => a <= to && b >= from);
  }

  rssMiB(): number {
    const status = readFileSync(`/proc/${this.proc!.pid}/status`, 'utf8');
    return Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024;
  }

  /** otpgate.db + state.db with their -wal and -shm files. */
  dbMiB(): number {
    const files = ['otpgate.db', 'state.db'].flatMap((f) => [f, `${f}-wal`, `${f}-shm`]).map((f) => join(this.dir, 'data', f));
    return files.reduce((sum, f) => sum + (existsSync(f) ? statSync(f).size : 0), 0) / 1024 / 1024;
  }

  /** The newest change this node has (a master's head, a replica's applied entry). */
  async head(): Promise<number> {
    const s = JSON.parse(await this.ogOk(['cluster', 'status', '--json'])) as { head_seq?: number; applied_seq?: number };
    return s.head_seq ?? s.applied_seq ?? 0;
  }
}
