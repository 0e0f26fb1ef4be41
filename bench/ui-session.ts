/**
 * The admin UI as a browser uses it, for the benches that time its pages (bench/ui-users.ts, bench/scale.ts): sign in,
 * then request a page again and again over one kept-alive HTTPS connection and keep the time of each, from sending
 * the request to the last byte of the answer. On loopback with nothing else in flight, that is the server's time
 * plus a fraction of a millisecond.
 */
import { readFileSync } from 'node:fs';
import { AdminClient, type Answer } from './admin-client.js';
import { quantile } from './quantile.js';

export interface PageTimes {
  page: string;
  path: string;
  median_ms: number;
  p95_ms: number;
  max_ms: number;
  bytes: number;
  /** What the page showed (match count, first and last user), so a change in the results shows too. */
  shows: string;
}


export class AdminSession {
  private constructor(private readonly client: AdminClient) {}

  /** Sign in as `admin` the way a browser does; the node's own admin certificate is the one trust anchor. */
  static async signIn(url: string, certFile: string, admin: string, password: string): Promise<AdminSession> {
    const client = new AdminClient(url, readFileSync(certFile, 'utf8'));
    await client.signIn(admin, password);
    return new AdminSession(client);
  }

  send(path: string): Promise<Answer> {
    return this.client.send(path);
  }

  /** The "Users (N)" count a users page shows. */
  async countOf(path: string): Promise<number> {
    const a = await this.send(path);
    const n = Number(/Users \((\d+)\)/.exec(a.body)?.[1] ?? NaN);
    if (a.status !== 200 || !Number.isFinite(n)) throw new Error(`GET ${path}: ${a.status}, no "Users (N)" caption: not signed in?`);
    return n;
  }

  /** Request `path` `warmup + requests` times, one after the other, and keep the times of the last `requests`. */
  async time(label: string, path: string, requests: number, warmup: number): Promise<PageTimes> {
    const times: number[] = [];
    let answer: Answer | undefined;
    for (let i = 0; i < warmup + requests; i++) {
      const t0 = performance.now();
      answer = await this.send(path);
      const ms = performance.now() - t0;
      if (answer.status !== 200) throw new Error(`GET ${path}: ${answer.status}`);
      if (i >= warmup) times.push(ms);
    }
    times.sort((a, b) => a - b);
    const body = answer!.body;
    const shown = /Users \((\d+)\)/.exec(body)?.[1];
    const rows = [...body.matchAll(/<a href="\/users\/([^"?]+)">/g)].map((m) => decodeURIComponent(m[1]!)).filter((u) => u !== 'new');
    return {
      page: label,
      path,
      median_ms: Number(quantile(times, 0.5).toFixed(2)),
      p95_ms: Number(quantile(times, 0.95).toFixed(2)),
      max_ms: Number(times.at(-1)!.toFixed(2)),
      bytes: Buffer.byteLength(body),
      shows: shown !== undefined ? `${shown} matches, rows ${rows[0] ?? '-'} .. ${rows.at(-1) ?? '-'} (${rows.length})` : `${body.length} bytes`,
    };
  }

  close(): Promise<void> {
    return this.client.close();
  }
}

/** One line of a page's figures, as the benches print them. */
export function pageLine(r: PageTimes): string {
  return `  ${r.page.padEnd(34)} ${r.path.padEnd(28)} median ${r.median_ms.toFixed(1).padStart(7)} ms  p95 ${r.p95_ms.toFixed(1).padStart(7)} ms  max ${r.max_ms.toFixed(1).padStart(7)} ms  ${(r.bytes / 1024).toFixed(0).padStart(4)} KiB  ${r.shows}`;
}
