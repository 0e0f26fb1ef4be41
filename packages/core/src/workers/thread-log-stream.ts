/**
 * A pino destination for a worker thread: lines are gathered for one turn of the event loop and handed to the main
 * thread as one string in one message, which it writes to stdout in one write (and to syslog line by line). Lines stay
 * whole and in order whatever the number of threads, and syslog keeps one connection. One string rather than an array
 * of lines: cloning and writing a turn's hundreds of lines one by one cost the main thread about 15 µs per request.
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
    const message: FromThread = { type: 'log', text: this.lines.join('') };
    this.lines = [];
    this.port.postMessage(message);
  }
}
