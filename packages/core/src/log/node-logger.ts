import { pino, type DestinationStream, type LevelWithSilent } from 'pino';
import type { NodeConfig } from '@otpgate/shared';
import { createLogger, type Logger } from '../logger.js';
import { nodeName } from '../node-name.js';
import { SyslogTransport, type SyslogTransportOptions } from './syslog-transport.js';

/** A logger and what must be flushed and closed with it. */
export interface NodeLogging {
  logger: Logger;
  /** Present when log.syslog is configured. */
  syslog: SyslogTransport | undefined;
  /** Send what is pending (stdout, syslog) and close the syslog connection. */
  close(): Promise<void>;
  /** Write lines another thread's logger made (whole JSON lines, each newline-terminated) where this logger's lines go. */
  forward: (line: string) => void;
}

export interface NodeLoggingOptions {
  /** Where the JSON lines go besides syslog: stdout (the default) for `serve`, stderr for CLI commands. */
  console?: DestinationStream;
  /** The console's level; syslog always gets config.log.level. Default: config.log.level. */
  consoleLevel?: LevelWithSilent;
  syslog?: SyslogTransportOptions;
}

const LEVEL_ORDER: readonly LevelWithSilent[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

/**
 * The node's logging as configured: JSON lines to the console and, with log.syslog, the same lines to the syslog
 * collector (RFC 5424). The lines are the same object either way, redacted the same way.
 */
export function openNodeLogging(config: NodeConfig, options: NodeLoggingOptions = {}): NodeLogging {
  const level = config.log.level;
  const consoleLevel = options.consoleLevel ?? level;
  const console = options.console ?? pino.destination({ sync: false });
  const flushConsole = () => {
    const flushable = console as { flushSync?: () => void };
    try {
      flushable.flushSync?.();
    } catch {
      // nothing more can be done about a console that cannot be written
    }
  };
  const settings = config.log.syslog;
  if (!settings) {
    const logger = createLogger(consoleLevel, nodeName(config), console);
    return { logger, syslog: undefined, close: async () => flushConsole(), forward: (line) => void console.write(line) };
  }
  const syslog = new SyslogTransport(settings, options.syslog);
  const lowest = LEVEL_ORDER[Math.min(LEVEL_ORDER.indexOf(level), LEVEL_ORDER.indexOf(consoleLevel))]!;
  const streams: pino.StreamEntry[] = [];
  if (consoleLevel !== 'silent') streams.push({ level: consoleLevel, stream: console });
  if (level !== 'silent') streams.push({ level, stream: syslog });
  if (streams.length === 0) streams.push({ level: 'fatal', stream: syslog });
  const logger = createLogger(lowest, nodeName(config), pino.multistream(streams));
  return {
    logger,
    syslog,
    forward: (line) => {
      for (const s of streams) s.stream.write(line);
    },
    close: async () => {
      flushConsole();
      await syslog.close();
    },
  };
}
