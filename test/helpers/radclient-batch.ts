import { spawn } from 'node:child_process';

export interface BatchResult {
  /** Answers received, by code name (Access-Accept, Access-Reject, ...). */
  received: Record<string, number>;
  /** Requests that got no answer. */
  noReply: number;
  output: string;
}

/**
 * Many Access-Requests in one radclient run (radclient reads them from stdin, separated by blank lines), sent
 * `parallel` at a time: the load a busy NAS makes. Each request is radclient input lines ("Name = value").
 */
export function radclientBatch(
  target: string,
  secret: string,
  requests: string[][],
  options: { parallel?: number; retries?: number; timeoutSeconds?: number } = {},
): Promise<BatchResult> {
  return new Promise((resolve, reject) => {
    const args = ['-x', '-p', String(options.parallel ?? 8), '-r', String(options.retries ?? 1), '-t', String(options.timeoutSeconds ?? 2), target, 'auth', secret];
    const child = spawn('radclient', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', reject);
    child.on('close', () => {
      const received: Record<string, number> = {};
      for (const m of output.matchAll(/^Received (Access-\w+)/gm)) received[m[1]!] = (received[m[1]!] ?? 0) + 1;
      const noReply = [...output.matchAll(/No reply from server/g)].length;
      resolve({ received, noReply, output });
    });
    child.stdin.end(requests.map((r) => r.join('\n')).join('\n\n') + '\n');
  });
}
