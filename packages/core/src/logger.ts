import { pino, type DestinationStream, type Logger, type LevelWithSilent } from 'pino';
import { BoundedMap } from './bounded-map.js';

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
  private readonly last: BoundedMap<string, true>;

  constructor(intervalMs: number, now: () => number = Date.now) {
    // an entry is a key that logged within the interval; a flood of new keys pushes out the oldest, not memory
    this.last = new BoundedMap({ name: 'log_limiter', maxEntries: 10_000, maxAgeMs: intervalMs, now });
  }

  allow(key: string): boolean {
    if (this.last.has(key)) return false;
    this.last.set(key, true);
    return true;
  }
}
