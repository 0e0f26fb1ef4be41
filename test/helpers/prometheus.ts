import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from './net.js';
import { eventually } from './eventually.js';
import { stopChild } from './process.js';

export const PROMETHEUS_BIN = '/usr/bin/prometheus';
export const canRunPrometheus = existsSync(PROMETHEUS_BIN);

export interface ScrapeTarget {
  /** host:port */
  address: string;
  /** the `target` label telling the targets apart in queries (otpgate's own metrics already use `node`) */
  target: string;
  bearerToken?: string;
  /** PEM CA file for an HTTPS target */
  caFile?: string;
}

export interface Sample {
  metric: Record<string, string>;
  value: number;
}

/**
 * A real Prometheus (the Debian package) on loopback, scraping the given otpgate nodes every second, with its data in
 * a folder of the test's own. Its own log goes to DIR/prometheus.log (the secrets scan reads it too).
 */
export class PrometheusServer {
  private child: ChildProcess | undefined;
  port = 0;

  constructor(private readonly dir: string) {}

  async start(targets: ScrapeTarget[]): Promise<void> {
    mkdirSync(this.dir, { recursive: true });
    this.port = await freePort();
    const jobs = targets.map((t) =>
      [
        `  - job_name: otpgate-${t.target}`,
        `    scrape_interval: 1s`,
        `    scrape_timeout: 1s`,
        ...(t.caFile ? [`    scheme: https`, `    tls_config:`, `      ca_file: ${t.caFile}`] : []),
        ...(t.bearerToken ? [`    authorization:`, `      type: Bearer`, `      credentials: ${t.bearerToken}`] : []),
        `    static_configs:`,
        `      - targets: ['${t.address}']`,
        `        labels:`,
        `          target: ${t.target}`,
      ].join('\n'),
    );
    const config = join(this.dir, 'prometheus.yml');
    writeFileSync(config, `global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n${jobs.join('\n')}\n`, { mode: 0o600 });
    const log = createWriteStream(join(this.dir, 'prometheus.log'));
    this.child = spawn(
      PROMETHEUS_BIN,
      [`--config.file=${config}`, `--storage.tsdb.path=${join(this.dir, 'tsdb')}`, `--web.listen-address=127.0.0.1:${this.port}`, '--log.level=warn'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.child.stdout!.pipe(log);
    this.child.stderr!.pipe(log);
    await eventually(
      'prometheus to be ready',
      async () => {
        if (this.child?.exitCode !== null) throw new Error(`prometheus exited with ${this.child?.exitCode}; see ${join(this.dir, 'prometheus.log')}`);
        try {
          return (await fetch(`http://127.0.0.1:${this.port}/-/ready`)).status === 200;
        } catch {
          return false;
        }
      },
      30_000,
      200,
    );
  }

  /** An instant query through the HTTP API. */
  async query(expr: string): Promise<Sample[]> {
    const res = await fetch(`http://127.0.0.1:${this.port}/api/v1/query?query=${encodeURIComponent(expr)}`);
    const body = (await res.json()) as { status: string; error?: string; data?: { result: Array<{ metric: Record<string, string>; value: [number, string] }> } };
    if (body.status !== 'success') throw new Error(`query ${expr} failed: ${body.error ?? res.status}`);
    return body.data!.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
  }

  /** The query's samples as label value -> number, keyed by `label`. */
  async byLabel(expr: string, label: string): Promise<Record<string, number>> {
    return Object.fromEntries((await this.query(expr)).map((s) => [s.metric[label] ?? '', s.value]));
  }

  async stop(): Promise<void> {
    await stopChild(this.child);
  }
}
