import { pino, type DestinationStream, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

/**
 * Structured JSON logs to stdout (one object per line), for journald and any log shipper. Fields that could carry a
 * secret are redacted by name as a second line of defence: no code path logs a password, code or secret on purpose.
 */
export function createLogger(level: LevelWithSilent, node: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { node },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      // top-level names only: wildcard paths cost a walk of every logged object, on every request
      redact: { paths: ['password', 'secret', 'code', 'sharedSecret', 'bind_password', 'client_secret'], censor: '[redacted]' },
    },
    destination ?? pino.destination({ sync: false }),
  );
}

/** At most one log line per key per interval: a flood from one address must not flood the log. */
export class LogLimiter {
  private readonly last = new Map<string, number>();

  constructor(
    private readonly intervalMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  allow(key: string): boolean {
    const t = this.now();
    const previous = this.last.get(key);
    if (previous !== undefined && t - previous < this.intervalMs) return false;
    if (this.last.size > 10_000) this.last.clear();
    this.last.set(key, t);
    return true;
  }
}
