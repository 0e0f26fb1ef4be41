import type { ChildProcess } from 'node:child_process';

/** SIGTERM, then SIGKILL after five seconds; resolves when the process has exited, with the signal that ended it. */
export async function stopChild(child: ChildProcess | undefined): Promise<NodeJS.Signals | null> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return child?.signalCode ?? null;
  return new Promise((resolve) => {
    child.once('exit', (_code, signal) => resolve(signal));
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 5000).unref();
  });
}
