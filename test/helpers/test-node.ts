import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, createWriteStream, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { CLI_PATH, scratchDir } from './paths.js';
import { okOrThrow, otpgate, type CliResult } from './cli.js';
import { secretFromUri } from './otp.js';
import { freePort } from './net.js';
import { stopChild } from './process.js';

/** Where each node folder keeps the secrets its tests used (see noteSecret). */
export const SECRETS_FILE = 'secrets.json';

/**
 * The metrics section (loopback, any free port: nodes run side by side, plus the test's own lines), and the admin
 * UI likewise on a free loopback port (plus the test's own admin lines).
 */
function metricsSection(extra = '', admin = ''): string {
  return `metrics:\n${/^\s*listen:/m.test(extra) ? '' : '  listen: ["127.0.0.1:0"]\n'}${extra}admin:\n  listen: ["127.0.0.1:0"]\n${admin}`;
}

export interface LogLine {
  level: string;
  msg: string;
  [field: string]: unknown;
}

/**
 * A real otpgate node in its own folder, run as a separate process with the built CLI, listening on 127.0.0.1 with
 * a port the kernel picks. Its log is kept in test-output/ for inspection.
 */
export class TestNode {
  readonly configPath: string;
  readonly logPath: string;
  private child: ChildProcess | undefined;
  private lines: LogLine[] = [];
  private waiters: Array<() => void> = [];
  ports: number[] = [];
  replicationPort = 0;
  /** Base URL of the metrics and health server (http://127.0.0.1:PORT), known once started. */
  metricsUrl = '';
  /** Base URL of the admin UI (https://127.0.0.1:PORT), known once started. */
  adminUrl = '';
  /** Base URL of the enrollment portal when enabled (https://127.0.0.1:PORT), known once started. */
  enrollUrl = '';

  private constructor(readonly dir: string) {
    this.configPath = join(dir, 'otpgate.yaml');
    this.logPath = join(dir, 'serve.log');
  }

  /** A master with a cluster: the replication API on a free port, certificate for 127.0.0.1. */
  static async createMaster(
    name: string,
    options: { radius?: string; cluster?: string; metrics?: string; admin?: string; log?: string; dataDir?: string } = {},
  ): Promise<TestNode> {
    const port = await freePort();
    const node = await TestNode.create(name, {
      radius: options.radius,
      metrics: options.metrics,
      admin: options.admin,
      log: options.log,
      dataDir: options.dataDir,
      config: `cluster:\n  listen: ["127.0.0.1:${port}"]\n${options.cluster ?? ''}`,
    });
    await node.cliOk('cluster', 'init', '--host', '127.0.0.1');
    node.replicationPort = port;
    return node;
  }

  /**
   * A replica joined with a bundle made on `master` (not started). `edit` may change the bundle first; `options` adds
   * YAML lines to the cluster, metrics and log sections (`dataDir`: as for create).
   */
  static async createReplica(
    name: string,
    master: TestNode,
    edit?: (bundle: Record<string, unknown>) => void,
    options: { cluster?: string; metrics?: string; log?: string; dataDir?: string } = {},
  ): Promise<TestNode> {
    const node = new TestNode(scratchDir(name));
    writeFileSync(
      node.configPath,
      `node:\n  name: ${name}\n  data_dir: ${JSON.stringify(options.dataDir ?? 'data')}\nradius:\n  listen: ["127.0.0.1:0"]\nlog:\n  level: debug\n${options.log ?? ''}cluster:\n` +
        // the test's own cluster lines replace these defaults (a key may appear only once)
        ['  poll_seconds: 5\n', '  max_retry_seconds: 2\n', '  report_interval_ms: 100\n']
          .filter((line) => !new RegExp(`^\\s*${line.trim().split(':')[0]}:`, 'm').test(options.cluster ?? ''))
          .join('') +
        (options.cluster ?? '') +
        metricsSection(options.metrics),
    );
    const bundlePath = join(node.dir, 'bundle.json');
    await master.cliOk('cluster', 'add-replica', name, '--out', bundlePath);
    if (edit) {
      const bundle = JSON.parse(readFileSync(bundlePath, 'utf8')) as Record<string, unknown>;
      edit(bundle);
      writeFileSync(bundlePath, JSON.stringify(bundle));
    }
    await node.cliOk('replica', 'join', bundlePath);
    return node;
  }

  /**
   * A fresh, initialised master with no users or clients. `radius`, `metrics`, `admin` and `log` are extra YAML lines
   * for those sections; `config` extra top-level sections. `init: false` leaves the data folder empty (for a restore).
   * `dataDir`: the data folder somewhere else than DIR/data (an absolute path, e.g. on a file system of its own).
   */
  static async create(
    name: string,
    options: { listen?: string[]; radius?: string; config?: string; metrics?: string; admin?: string; log?: string; init?: boolean; dataDir?: string } = {},
  ): Promise<TestNode> {
    const node = new TestNode(scratchDir(name));
    const listen = JSON.stringify(options.listen ?? ['127.0.0.1:0']);
    writeFileSync(
      node.configPath,
      `node:\n  name: ${name}\n  data_dir: ${JSON.stringify(options.dataDir ?? 'data')}\nradius:\n  listen: ${listen}\n${options.radius ?? ''}log:\n  level: debug\n${options.log ?? ''}${options.config ?? ''}` +
        metricsSection(options.metrics, options.admin),
    );
    if (options.init ?? true) await node.cliOk('init');
    return node;
  }

  /**
   * The node's own `otpgate` command, logging at info (its admin-action lines) to stderr, which is kept in cli.log
   * next to serve.log so the suite's secret scan reads the command's log lines too.
   */
  async cli(...args: string[]): Promise<CliResult> {
    return this.runCli(args);
  }

  async cliOk(...args: string[]): Promise<string> {
    return okOrThrow(args, await this.runCli(args));
  }

  /** A command reading a secret (password, client secret...) from standard input: the secret is noted for the log scan. */
  async cliInput(input: string, ...args: string[]): Promise<string> {
    this.noteSecret(input);
    return okOrThrow(args, await this.runCli(args, input));
  }

  private async runCli(args: string[], input?: string): Promise<CliResult> {
    const result = await otpgate(['-c', this.configPath, ...args], { input, env: { OTPGATE_CLI_LOG: '1' } });
    if (result.stderr) appendFileSync(join(this.dir, 'cli.log'), result.stderr);
    return result;
  }

  /**
   * Remember a secret this node was given, in DIR/secrets.json: the last test file (log-secrets) checks that none
   * of them appears in any log the suite produced.
   */
  noteSecret(input: string): void {
    // the commands read the first line of standard input
    const secret = input.split('\n')[0]!.replace(/\r$/, '');
    const path = join(this.dir, SECRETS_FILE);
    const known = existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as string[]) : [];
    if (!known.includes(secret)) writeFileSync(path, JSON.stringify([...known, secret]));
  }

  /**
   * Change clients, groups or settings with the CLI while the node runs, and wait until the node has reloaded them
   * (it notices another process's change within 50 ms).
   */
  async configure(...args: string[]): Promise<string> {
    if (!this.child) return this.cliOk(...args);
    const before = this.lines.length;
    const out = await this.cliOk(...args);
    await this.waitForLog((l) => this.lines.indexOf(l) >= before && l.event === 'config-reloaded');
    return out;
  }

  /** Add the usual loopback client (Message-Authenticator required unless told). */
  async addClient(name = 'local', address = '127.0.0.1', secret = 'testing123', ...options: string[]): Promise<void> {
    await this.cliInput(secret, 'client', 'add', name, address, '--secret-stdin', ...options);
  }

  /**
   * Add a user with a TOTP token and a local password (null: none, the password is checked by a directory); returns
   * the token's base32 secret.
   */
  async addUserWithToken(username: string, password: string | null, ...userOptions: string[]): Promise<string> {
    if (password === null) await this.cliOk('user', 'add', username, '--no-password', ...userOptions);
    else await this.cliInput(password, 'user', 'add', username, '--password-stdin', ...userOptions);
    return this.addToken(username);
  }

  async addToken(username: string, ...options: string[]): Promise<string> {
    const out = JSON.parse(await this.cliOk('token', 'add', username, '--json', ...options)) as { uri: string };
    const secret = secretFromUri(out.uri);
    this.noteSecret(secret);
    return secret;
  }

  /**
   * Run `otpgate serve` and wait until the node has started (`until`: another log line, e.g. to catch a replica
   * before its first snapshot is in).
   */
  async start(timeoutMs = 60_000, until: (l: LogLine) => boolean = (l) => l.msg === 'otpgate node started'): Promise<void> {
    const log = createWriteStream(this.logPath, { flags: 'a' });
    this.lines = [];
    this.child = spawn(process.execPath, [CLI_PATH, '-c', this.configPath, 'serve'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const onLine = (text: string) => {
      try {
        this.lines.push(JSON.parse(text) as LogLine);
      } catch {
        this.lines.push({ level: 'raw', msg: text });
      }
      for (const w of this.waiters.splice(0)) w();
    };
    for (const stream of [this.child.stdout!, this.child.stderr!]) {
      stream.on('data', (d: Buffer) => log.write(d));
      createInterface({ input: stream, crlfDelay: Infinity }).on('line', onLine);
    }
    const started = await this.waitForLog((l) => until(l) || l.level === 'raw', timeoutMs);
    if (!until(started)) throw new Error(`node did not start: ${this.lines.map((l) => l.msg).join('\n')}`);
    this.ports = this.lines
      .filter((l) => l.msg === 'RADIUS listening')
      .map((l) => Number(/:(\d+)$/.exec(String(l.listen))![1]));
    const ops = this.lines.find((l) => l.event === 'ops-listening');
    if (ops) this.metricsUrl = `${ops.tls ? 'https' : 'http'}://${String(ops.listen)}`;
    const admin = this.lines.find((l) => l.msg === 'admin UI listening (HTTPS)');
    if (admin) this.adminUrl = `https://${String(admin.listen)}`;
    const portal = this.lines.find((l) => l.msg === 'enrollment portal listening (HTTPS)');
    if (portal) this.enrollUrl = `https://${String(portal.listen)}`;
  }

  /** The `otpgate serve` process, while it runs. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  get port(): number {
    return this.ports[0]!;
  }

  get target(): string {
    return `127.0.0.1:${this.port}`;
  }

  logs(): LogLine[] {
    return this.lines;
  }

  /** Resolve with the first log line (already written or to come) matching `predicate`. */
  async waitForLog(predicate: (l: LogLine) => boolean, timeoutMs = 5000): Promise<LogLine> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.lines.find(predicate);
      if (found) return found;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no matching log line within ${timeoutMs} ms; last lines:\n${this.lines.slice(-5).map((l) => JSON.stringify(l)).join('\n')}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Wait until this replica has applied the master's change `seq` (from a batch or a snapshot). */
  waitForApplied(seq: number, timeoutMs = 10_000): Promise<LogLine> {
    return this.waitForLog(
      (l) => (l.event === 'replication-applied' && Number(l.to) >= seq) || (l.event === 'replication-snapshot' && Number(l.seq) >= seq),
      timeoutMs,
    );
  }

  /** The value of a metric on this node's /metrics (summed over the series with these labels; 0 when none). */
  async metric(name: string, labels: Record<string, string> = {}): Promise<number> {
    const text = await (await fetch(`${this.metricsUrl}/metrics`)).text();
    const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
    return text
      .split('\n')
      .filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `))
      .filter((line) => wanted.every((w) => line.includes(w)))
      .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
  }

  /** The newest change on this node (its log head). */
  async headSeq(): Promise<number> {
    const status = JSON.parse(await this.cliOk('cluster', 'status', '--json')) as { head_seq?: number; applied_seq?: number };
    return status.head_seq ?? status.applied_seq ?? 0;
  }

  /**
   * A position in the log, for authAfter(), taken once the log has been quiet for a moment: a request's log line can
   * trail its answer, and must not be taken for the next request's.
   */
  async mark(): Promise<number> {
    // a node under steady load is never quiet: after two seconds take the position as it is
    const deadline = Date.now() + 2000;
    for (;;) {
      const n = this.lines.length;
      await new Promise((r) => setTimeout(r, 150));
      if (this.lines.length === n || Date.now() > deadline) return this.lines.length;
    }
  }

  /**
   * The first authentication line (for `user`, if given) logged after `mark`: the line may reach the log a moment
   * after the RADIUS answer reached the client.
   */
  authAfter(mark: number, user?: string): Promise<LogLine> {
    return this.waitForLog((l) => this.lines.indexOf(l) >= mark && l.event === 'auth' && (user === undefined || l.user === user));
  }

  /**
   * The auth lines logged after `mark`, once there are `count` of them: lines reach the log after their answers, and
   * from several RADIUS threads in any order.
   */
  async authLinesAfter(mark: number, count: number, timeoutMs = 10_000): Promise<LogLine[]> {
    const after = () => this.lines.slice(mark).filter((l) => l.event === 'auth');
    await this.waitForLog(() => after().length >= count, timeoutMs);
    return after();
  }

  /** The auth log lines (one per Access-Request answered or dropped by the pipeline). */
  authLines(): LogLine[] {
    return this.lines.filter((l) => l.event === 'auth');
  }

  /** kill -9: the process and its threads end at once, wherever they are (crash tests). */
  async kill(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
  }

  /** SIGTERM (SIGKILL after five seconds); the signal that ended the process: SIGKILL when SIGTERM did not. */
  async stop(): Promise<NodeJS.Signals | null> {
    const signal = await stopChild(this.child);
    this.child = undefined;
    return signal;
  }
}
