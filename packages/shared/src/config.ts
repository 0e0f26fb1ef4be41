import { isAbsolute, resolve, dirname } from 'node:path';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { LineCounter, parseDocument, isMap, isNode, isScalar } from 'yaml';
import { parseListenAddress, type ListenAddress } from './listen-address.js';
import { ValidationError, problemsFromZod, type ValidationProblem } from './validation.js';
import { OtpgateError } from './errors.js';

const int = () => z.number().int();

function listenList(defaultPort: number, defaults: string[]) {
  return z
    .array(z.string())
    .min(1)
    .default(defaults)
    .transform((list, ctx): ListenAddress[] => {
      const out: ListenAddress[] = [];
      list.forEach((text, i) => {
        const parsed = parseListenAddress(text, defaultPort);
        if (typeof parsed === 'string') ctx.addIssue({ code: 'custom', message: parsed, path: [i] });
        else out.push(parsed);
      });
      return out;
    });
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/**
 * The node's own configuration file: where it listens, where it keeps its data, how it logs. Everything has a
 * default, so an empty file (or none) is a working node. Cluster-wide policy lives in the store (settings.ts).
 */
export const nodeConfigSchema = z
  .strictObject({
    node: z
      .strictObject({
        /** Shown in logs, metrics and cluster status; defaults to the host name. */
        name: z
          .string()
          .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, 'letters, digits, ".", "_" and "-" only, at most 63')
          .optional(),
        /** Database, key file and certificates. Relative paths are taken from the config file's folder. */
        data_dir: z.string().min(1).default('/var/lib/otpgate'),
      })
      .prefault({}),
    log: z
      .strictObject({
        level: z.enum(LOG_LEVELS).default('info'),
        /** Days of per-request authentication records kept in the database (for the admin UI and audits). */
        auth_log_days: int().min(1).max(3650).default(30),
      })
      .prefault({}),
    radius: z
      .strictObject({
        /** Addresses to serve RADIUS authentication on; IPv6 as "[::]:1812". */
        listen: listenList(1812, ['0.0.0.0:1812', '[::]:1812']),
        /** Socket receive buffer: bursts from many NAS at once overflow the kernel default. */
        receive_buffer_bytes: int().min(65536).max(256 * 1024 * 1024).default(4 * 1024 * 1024),
        /** How long an answer is kept to repeat it to a retransmission (RFC 5080; FreeRADIUS cleanup_delay). */
        duplicate_cache_seconds: int().min(1).max(60).default(5),
        /** At most one log line per unknown source address in this many seconds. */
        unknown_client_log_interval_seconds: int().min(1).max(86400).default(60),
        /** Extra dictionary files (FreeRADIUS format) for vendor reply attributes otpgate does not ship. */
        dictionaries: z.array(z.string().min(1)).default([]),
      })
      .prefault({}),
    cluster: z
      .strictObject({
        /** Master: where the replication API listens (HTTPS with mutual TLS; replicas connect here). */
        listen: listenList(8444, ['0.0.0.0:8444']),
        /** Replica: how long one long-poll for changes waits on the master. */
        poll_seconds: int().min(1).max(120).default(25),
        /** Replica: how often accepted codes are reported to the master (cluster-wide replay protection). */
        report_interval_ms: int().min(20).max(10_000).default(200),
        /** Replica: longest wait between retries while the master cannot be reached. */
        max_retry_seconds: int().min(1).max(600).default(30),
      })
      .prefault({}),
  })
  .prefault({});

export type NodeConfig = z.output<typeof nodeConfigSchema>;

export class ConfigFileError extends OtpgateError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('config-file', message, options);
  }
}

/** A section whose lines are all commented out ("radius:" alone) is YAML null: take it as an empty section. */
function withEmptySections(raw: unknown): unknown {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return raw;
  return Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, v === null ? {} : v]));
}

/** Parse config text (YAML, which includes JSON) and validate it; problems carry line numbers. */
export function parseNodeConfig(text: string, source: string, baseDir: string): NodeConfig {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ValidationError(
      source,
      doc.errors.map((e) => ({
        path: '(syntax)',
        message: e.message.split('\n')[0] ?? e.message,
        line: e.linePos?.[0]?.line,
      })),
    );
  }
  const raw: unknown = withEmptySections(doc.toJS() ?? {});
  const result = nodeConfigSchema.safeParse(raw);
  if (!result.success) {
    const problems: ValidationProblem[] = problemsFromZod(result.error).map((p, i) => {
      const issue = result.error.issues[i];
      let node = doc.getIn((issue?.path ?? []) as (string | number)[], true);
      // an unknown key: point at the key itself, not at the first line of the section holding it
      if (issue?.code === 'unrecognized_keys' && isMap(node)) {
        node = node.items.find((pair) => isScalar(pair.key) && pair.key.value === issue.keys[0])?.key ?? node;
      }
      const offset = isNode(node) ? node.range?.[0] : undefined;
      return offset === undefined ? p : { ...p, line: lineCounter.linePos(offset).line };
    });
    throw new ValidationError(source, problems);
  }
  const config = result.data;
  if (!isAbsolute(config.node.data_dir)) config.node.data_dir = resolve(baseDir, config.node.data_dir);
  return config;
}

/** Read and validate a config file; a missing file is an error only when `required`. */
export function loadNodeConfig(path: string, required: boolean): NodeConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' && !required) return parseNodeConfig('', path, dirname(path));
    throw new ConfigFileError(`cannot read config file ${path}: ${(err as Error).message}`, { cause: err });
  }
  return parseNodeConfig(text, path, dirname(resolve(path)));
}
