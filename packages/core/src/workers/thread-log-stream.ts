/**
 * A pino destination for a worker thread: lines are gathered for one turn of the event loop and handed to the main
 * thread in one message, which writes them to stdout and syslog. Lines stay whole and in order whatever the number of
 * threads, and syslog keeps one connection.
 */
import type { MessagePort } from 'node:worker_threads';
import type { FromThread } from './messages.js';

export class ThreadLogStream {
  private lines: string[] = [];
  private scheduled = false;

  constructor(private readonly port: Pick<MessagePort, 'postMessage'>) {}

  write(line: string): void {
    this.lines.push(line);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.flush());
  }

  flush(): void {
    this.scheduled = false;
    if (this.lines.length === 0) return;
    const message: FromThread = { type: 'log', lines: this.lines };
    this.lines = [];
    this.port.postMessage(message);
  }
}
