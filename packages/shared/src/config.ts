import { isAbsolute, resolve, dirname } from 'node:path';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { LineCounter, parseDocument, isMap, isNode, isScalar } from 'yaml';
import { parseListenAddress, type ListenAddress } from './listen-address.js';
import { parseCidr } from './ip-address.js';
import { ValidationError, problemsFromZod, type ValidationProblem } from './validation.js';
import { OtpgateError, errorMessage, errorCode } from './errors.js';
import { oidcProvidersSchema } from './oidc-config.js';

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

/** Loopback and the private ranges (RFC 1918, RFC 4193): by default a node's admin UI does not answer the internet. */
export const ADMIN_ALLOW_DEFAULT = ['127.0.0.0/8', '::1/128', '10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7'];
/** Everyone: the enrollment portal is for users, wherever they are. */
export const ENROLLMENT_ALLOW_DEFAULT = ['0.0.0.0/0', '::/0'];

/** Addresses and CIDR blocks a web server answers (admin.allow, enrollment.allow), in their canonical form. */
function allowList(section: string, defaults: string[]) {
  return z
    .array(z.string().max(64))
    .min(1, `an empty list would refuse every request; to switch the server off, set ${section}.enabled: false`)
    .max(1000)
    .default(defaults)
    .transform((list, ctx): string[] => {
      const out: string[] = [];
      list.forEach((text, i) => {
        const parsed = parseCidr(text);
        if (typeof parsed === 'string') ctx.addIssue({ code: 'custom', message: `${parsed}: write an address (192.0.2.10, 2001:db8::10) or a block (10.0.0.0/8, fd00::/8)`, path: [i] });
        else out.push(parsed.text);
      });
      return out;
    });
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** RFC 5424 facility names, in code order (the code is the index). */
export const SYSLOG_FACILITIES = [
  'kern', 'user', 'mail', 'daemon', 'auth', 'syslog', 'lpr', 'news', 'uucp', 'cron', 'authpriv', 'ftp', 'ntp', 'audit', 'alert', 'clock',
  'local0', 'local1', 'local2', 'local3', 'local4', 'local5', 'local6', 'local7',
] as const;
export type SyslogFacility = (typeof SYSLOG_FACILITIES)[number];

export const SYSLOG_PROTOCOLS = ['udp', 'tcp', 'tls'] as const;

/** Standard ports: 514 for UDP and TCP (RFC 5426, RFC 6587), 6514 for TLS (RFC 5425). */
export const SYSLOG_DEFAULT_PORT = { udp: 514, tcp: 514, tls: 6514 } as const;

const syslogSchema = z
  .strictObject({
    /** The collector (SIEM, rsyslog, syslog-ng): a host name or address. */
    host: z.string().min(1).max(253),
    /** Default by protocol: 514 (udp, tcp) or 6514 (tls). */
    port: int().min(1).max(65535).optional(),
    /** udp: one datagram per line (RFC 5426); tcp and tls: octet-counting framing (RFC 6587, RFC 5425). */
    protocol: z.enum(SYSLOG_PROTOCOLS).default('udp'),
    facility: z.enum(SYSLOG_FACILITIES).default('auth'),
    /** RFC 5424 APP-NAME: printable ASCII without spaces, at most 48. */
    app_name: z.string().regex(/^[\x21-\x7e]{1,48}$/, 'printable ASCII without spaces, at most 48 characters').default('otpgate'),
    /** tls: the CA certificates (PEM) the collector's certificate must chain to; default: the system's. */
    ca_file: z.string().min(1).optional(),
  })
  .transform((s) => ({ ...s, port: s.port ?? SYSLOG_DEFAULT_PORT[s.protocol] }));

export type SyslogConfig = z.output<typeof syslogSchema>;

/** A token or password given in the config file: printable ASCII, never logged, shown as "[set]" by `config check`. */
const configSecret = (min: number) => z.string().min(min, `at least ${min} characters`).max(512).regex(/^[\x21-\x7e]+$/, 'printable ASCII without spaces');
const httpUrl = () => z.url({ protocol: /^https?$/ }).max(2048);
/** How long one delivery may take on a channel (connect, send, answer). */
const notifyTimeout = (ms = 5000) => int().min(100).max(60_000).default(ms);

/** Standard Webhooks signing secret: "whsec_" and base64 of 24 to 64 random bytes. */
export const WEBHOOK_SECRET_PATTERN = /^whsec_(?:[A-Za-z0-9+/]{4}){8,22}(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

const notifySchema = z
  .strictObject({
    /** Deliveries waiting or under way at once, all channels together; past that a notice is dropped (logged, counted). */
    queue_size: int().min(1).max(100_000).default(1000),
    /** ntfy (https://ntfy.sh or your own server): JSON publish to the server's root. */
    ntfy: z
      .strictObject({
        server: httpUrl(),
        /** Access token (Authorization: Bearer), for a server that requires one. */
        token: configSecret(8).optional(),
        /** The user's topic: "{user}" is replaced by the user name (unguessable prefixes keep strangers out). */
        topic: z.string().min(1).max(64).regex(/^[A-Za-z0-9_{}-]+$/, 'letters, digits, "_", "-" and {user}').default('otpgate-{user}'),
        /** Where admin alerts go; none when absent. */
        alert_topic: z.string().min(1).max(64).regex(/^[A-Za-z0-9_-]+$/, 'letters, digits, "_" and "-"').optional(),
        timeout_ms: notifyTimeout(),
      })
      .optional(),
    /** Standard Webhooks receivers (chat bridges for Teams, Slack, ...): every notice is POSTed, signed, to each. */
    webhooks: z
      .array(
        z.strictObject({
          /** Names the webhook in logs and metrics (its URL may carry a token: it is never logged). */
          name: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,31}$/, 'lower-case letters, digits, "_" and "-", at most 32'),
          url: httpUrl(),
          /** The signing secret the receiver was given: "whsec_" + base64 of 24 to 64 random bytes. */
          secret: z.string().regex(WEBHOOK_SECRET_PATTERN, 'a Standard Webhooks secret: "whsec_" followed by base64 of 24 to 64 random bytes'),
          /** Which notices it gets. */
          notices: z.array(z.enum(['push', 'alert'])).min(1).default(['push', 'alert']),
          timeout_ms: notifyTimeout(),
        }),
      )
      .max(20)
      .default([])
      .superRefine((list, ctx) => {
        const seen = new Set<string>();
        list.forEach((w, i) => {
          if (seen.has(w.name)) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `"${w.name}" is used twice: give each webhook its own name` });
          seen.add(w.name);
        });
      }),
    /** Mail over SMTP: pushes to the user's address, alerts to `admins`. */
    mail: z
      .strictObject({
        host: z.string().min(1).max(253),
        /** Default by security: 587 (starttls, none) or 465 (tls). */
        port: int().min(1).max(65535).optional(),
        /** starttls: upgrade on the submission port (refused if the server cannot); tls: TLS from the start; none: plain (a local relay only). */
        security: z.enum(['starttls', 'tls', 'none']).default('starttls'),
        username: z.string().min(1).max(256).optional(),
        password: configSecret(1).optional(),
        from: z.email().max(254),
        /** Who gets admin alerts ("this wasn't me"). */
        admins: z.array(z.email().max(254)).max(50).default([]),
        /** CA certificates (PEM) the server's certificate must chain to; default: the system's. */
        ca_file: z.string().min(1).optional(),
        timeout_ms: notifyTimeout(10_000),
      })
      .superRefine((m, ctx) => {
        if ((m.username === undefined) !== (m.password === undefined)) {
          ctx.addIssue({ code: 'custom', path: [m.username === undefined ? 'username' : 'password'], message: 'SMTP authentication needs both username and password' });
        }
      })
      .transform((m) => ({ ...m, port: m.port ?? (m.security === 'tls' ? 465 : 587) }))
      .optional(),
  })
  .prefault({});

export type NotifyConfig = z.output<typeof notifySchema>;

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
        /** And at most this many of them: the oldest go first (a flood of requests must not fill the disk). */
        auth_log_max_rows: int().min(1000).max(1_000_000_000).default(5_000_000),
        /** Days of admin audit records kept in the database (every admin action and sign-in, UI and CLI). */
        admin_audit_days: int().min(1).max(36500).default(365),
        /** And at most this many of them: the oldest go first. */
        admin_audit_max_rows: int().min(100).max(1_000_000_000).default(1_000_000),
        /** Also send every log line to a syslog collector (RFC 5424), in addition to stdout; off when absent. */
        syslog: syslogSchema.optional(),
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
        /**
         * Users kept in memory, the most recently seen (about 1 KB each); the others are read from the database when
         * they log in. Memory follows this, not the number of users.
         */
        user_cache_size: int().min(100).max(10_000_000).default(50_000),
        /**
         * Logins held for a push approval at once on this node (a few hundred bytes each), shared out among its RADIUS
         * threads; one more is Rejected (push-limited) with a log line.
         */
        max_held_pushes: int().min(1).max(1_000_000).default(1000),
        /**
         * RADIUS worker threads, each with its own socket on every listen address (the kernel spreads requests by
         * source address and port). Default: the number of cores.
         */
        workers: int().min(1).max(256).optional(),
      })
      .prefault({}),
    cluster: z
      .strictObject({
        /** Master: where the replication API listens (HTTPS with mutual TLS; replicas connect here). */
        listen: listenList(8444, ['0.0.0.0:8444']),
        /** Replica: how long one long-poll for changes waits on the master. */
        poll_seconds: int().min(1).max(60).default(25),
        /** Replica: how often accepted codes are reported to the master (cluster-wide replay protection). */
        report_interval_ms: int().min(20).max(10_000).default(200),
        /**
         * Replica: before answering Accept, claim the used code from the master (one call over the mutual-TLS
         * channel), so one code gets one Accept in the whole cluster even when sent to two nodes at the same instant.
         * best-effort: when the master does not answer within claim_timeout_ms, decide locally and report afterwards
         * (logins keep working with the master down); strict: reject instead; off: report afterwards only.
         */
        replay_claim: z.enum(['strict', 'best-effort', 'off']).default('best-effort'),
        /**
         * Replica: how long a claim waits for the master. A LAN round trip is a millisecond or two; the margin is for
         * a busy master. NAS timeouts are seconds.
         */
        claim_timeout_ms: int().min(20).max(5000).default(1000),
        /** Replica: longest wait between retries while the master cannot be reached. */
        max_retry_seconds: int().min(1).max(600).default(30),
        /**
         * Replica: the largest snapshot it takes from the master, in MiB (about 500 per million users with a token
         * each). It is received into a file in the data folder before it is applied: a larger one is refused, so
         * neither a master gone wrong nor anything in the path can fill this node's disk.
         */
        max_snapshot_mb: int().min(1).max(1024 * 1024).default(4096),
        /**
         * Replica: degraded (still ready, /readyz and the alert say why) when the master has not been reached for
         * longer than this, or the oldest change not yet applied is older. Must exceed poll_seconds (a healthy long
         * poll is that quiet).
         */
        lag_budget_seconds: int().min(2).max(86400).default(60),
        /**
         * Replica: how old its last good copy of the master's state may grow before it turns not ready (/readyz 503).
         * Until then it stays ready through a master outage, so load balancers keep it; what that risks is that a
         * user disabled on the master meanwhile still logs in here. 24 hours by default, at most 30 days.
         */
        max_staleness_seconds: int().min(3).max(30 * 86400).default(86400),
        /**
         * Master: the change log keeps what the replicas seen within this many days still need; one away longer
         * re-syncs from a snapshot when it is back.
         */
        replica_horizon_days: int().min(1).max(3650).default(7),
      })
      .superRefine((c, ctx) => {
        if (c.lag_budget_seconds <= c.poll_seconds) {
          ctx.addIssue({
            code: 'custom',
            path: ['lag_budget_seconds'],
            message: `must be more than poll_seconds (${c.poll_seconds}), or a healthy replica would flap between in step and degraded`,
          });
        }
        if (c.max_staleness_seconds <= c.lag_budget_seconds) {
          ctx.addIssue({
            code: 'custom',
            path: ['max_staleness_seconds'],
            message: `must be more than lag_budget_seconds (${c.lag_budget_seconds}): a replica is degraded first, then not ready`,
          });
        }
      })
      .prefault({}),
    metrics: z
      .strictObject({
        /** Serve /metrics, /healthz and /readyz (HTTP, or HTTPS with the TLS files below). */
        enabled: z.boolean().default(true),
        /** Addresses of the metrics and health server: its own port, never the RADIUS or replication ports. */
        listen: listenList(9812, ['0.0.0.0:9812']),
        /** When set, /metrics and /readyz need "Authorization: Bearer TOKEN" (/healthz stays open: it says only "alive"). */
        bearer_token: configSecret(16).optional(),
        /** HTTPS instead of HTTP: certificate chain and private key (PEM). Relative paths are taken from the config file's folder. */
        tls_cert_file: z.string().min(1).optional(),
        tls_key_file: z.string().min(1).optional(),
      })
      .superRefine((m, ctx) => {
        if ((m.tls_cert_file === undefined) !== (m.tls_key_file === undefined)) {
          const missing = m.tls_cert_file === undefined ? 'tls_cert_file' : 'tls_key_file';
          ctx.addIssue({ code: 'custom', path: [missing], message: 'TLS needs both tls_cert_file and tls_key_file' });
        }
      })
      .prefault({}),
    admin: z
      .strictObject({
        /** Serve the admin web UI (HTTPS; on a replica a read-only status page). */
        enabled: z.boolean().default(true),
        listen: listenList(8443, ['0.0.0.0:8443']),
        /** Who may reach it: requests from other addresses are refused with 403 before anything else is read. */
        allow: allowList('admin', ADMIN_ALLOW_DEFAULT),
        /** Sign out after this long without a request. */
        idle_minutes: int().min(1).max(24 * 60).default(30),
        /** Sign out this long after signing in, busy or not. */
        session_hours: int().min(1).max(7 * 24).default(8),
        /**
         * A directory admin's session asks the directory again, at most this often, whether they are still in the admin
         * group (0: on every request); removed from it, or not confirmed, they are signed out.
         */
        directory_recheck_minutes: int().min(0).max(60).default(5),
      })
      .prefault({}),
    enrollment: z
      .strictObject({
        /** The self-service enrollment portal (HTTPS, its own port); master only, never on a replica. */
        enabled: z.boolean().default(false),
        listen: listenList(9443, ['0.0.0.0:9443']),
        /** Who may reach it (as admin.allow); everyone by default. */
        allow: allowList('enrollment', ENROLLMENT_ALLOW_DEFAULT),
        /** A portal session (sign in, scan, confirm) must finish within this many minutes. */
        session_minutes: int().min(1).max(120).default(10),
      })
      .prefault({}),
    portal: z
      .strictObject({
        /**
         * How long a one-time VPN credential may wait to be used, in seconds (2 minutes: time to start the
         * connection). Used once, it is spent whatever is left.
         */
        vpn_credential_seconds: int().min(10).max(3600).default(120),
        /**
         * WebAuthn relying party id: the host name users reach the portal by (vpn.example.com), or a parent domain
         * of it. Never an IP address: browsers refuse passkeys there. Passkeys are off until set.
         */
        rp_id: z
          .string()
          .max(253)
          .regex(/^(?=.*[a-z])[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/, 'a lower-case host name (vpn.example.com), never an IP address')
          .optional(),
        /** The portal's address as the browser sees it (https://vpn.example.com:9443): its host is rp_id or under it. */
        origin: z.url({ protocol: /^https$/ }).optional(),
        /** OpenID Connect providers users may sign in to the portal with (oidc-config.ts); they need origin. */
        oidc: oidcProvidersSchema,
      })
      .superRefine((p, ctx) => {
        if (p.oidc.length > 0 && p.origin === undefined) {
          ctx.addIssue({ code: 'custom', path: ['origin'], message: 'single sign-on (portal.oidc) needs the portal\'s origin (and rp_id): the redirect URI is built from it' });
        }
        if ((p.rp_id === undefined) !== (p.origin === undefined)) {
          ctx.addIssue({ code: 'custom', path: [p.rp_id === undefined ? 'rp_id' : 'origin'], message: 'passkeys need both rp_id and origin' });
          return;
        }
        if (p.rp_id === undefined || p.origin === undefined) return;
        const url = new URL(p.origin);
        if (url.pathname !== '/' || url.search || url.hash || p.origin.endsWith('/')) {
          ctx.addIssue({ code: 'custom', path: ['origin'], message: 'scheme, host and port only (https://vpn.example.com:9443), no path' });
        } else if (url.hostname !== p.rp_id && !url.hostname.endsWith(`.${p.rp_id}`)) {
          ctx.addIssue({ code: 'custom', path: ['origin'], message: `its host must be rp_id (${p.rp_id}) or a name under it` });
        }
      })
      .prefault({}),
    /** Where pushes and admin alerts go (master only): ntfy, signed webhooks, mail. Every channel is off unless set. */
    notify: notifySchema,
  })
  .superRefine((c, ctx) => {
    // one port per service: metrics on the RADIUS or replication port would expose it to every NAS or replica, and
    // two services on one port fail at start with a less helpful EADDRINUSE
    const services: Array<[string, Array<{ port: number }>]> = [
      ['radius.listen', c.radius.listen],
      ['cluster.listen', c.cluster.listen],
      ['admin.listen', c.admin.enabled ? c.admin.listen : []],
      ['enrollment.listen', c.enrollment.enabled ? c.enrollment.listen : []],
      ['metrics.listen', c.metrics.enabled ? c.metrics.listen : []],
    ];
    services.forEach(([name, listens], s) => {
      listens.forEach((l, i) => {
        if (l.port === 0) return;
        const clash = services.slice(0, s).find(([, earlier]) => earlier.some((e) => e.port === l.port));
        if (clash) {
          const [section] = name.split('.');
          ctx.addIssue({ code: 'custom', path: [section!, 'listen', i], message: `port ${l.port} is also in ${clash[0]}: give ${section} a port of its own` });
        }
      });
    });
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
  const fromBase = (path: string) => (isAbsolute(path) ? path : resolve(baseDir, path));
  config.node.data_dir = fromBase(config.node.data_dir);
  if (config.metrics.tls_cert_file) config.metrics.tls_cert_file = fromBase(config.metrics.tls_cert_file);
  if (config.metrics.tls_key_file) config.metrics.tls_key_file = fromBase(config.metrics.tls_key_file);
  if (config.log.syslog?.ca_file) config.log.syslog.ca_file = fromBase(config.log.syslog.ca_file);
  for (const p of config.portal.oidc) {
    if (p.ca_file) p.ca_file = fromBase(p.ca_file);
    if (p.client_secret_file) p.client_secret_file = fromBase(p.client_secret_file);
  }
  if (config.notify.mail?.ca_file) config.notify.mail.ca_file = fromBase(config.notify.mail.ca_file);
  return config;
}

/** Read and validate a config file; a missing file is an error only when `required`. */
export function loadNodeConfig(path: string, required: boolean): NodeConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if (errorCode(err) === 'ENOENT' && !required) return parseNodeConfig('', path, dirname(path));
    throw new ConfigFileError(`cannot read config file ${path}: ${errorMessage(err)}`, { cause: err });
  }
  return parseNodeConfig(text, path, dirname(resolve(path)));
}
