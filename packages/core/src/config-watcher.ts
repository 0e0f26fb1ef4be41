/**
 * Follows the configuration a node's threads hold in memory (settings, clients, groups): its version is the newest
 * change-log entry of those entities (and the log base, which a snapshot moves). Checked every RELOAD_INTERVAL_MS —
 * a change made by another process (the CLI) or another thread lands within that — and at once after a change made
 * in this thread. Used steps, which also move the log, do not count as a change.
 */
import type { Logger } from './logger.js';
import type { Store } from './store/store.js';
import { logBase } from './store/change-log.js';
import { errorMessage } from '@otpgate/shared';

const RELOAD_INTERVAL_MS = 50;

export class ConfigWatcher {
  private loadedVersion = '';
  private timer: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;
  private readonly versionStmt;

  constructor(
    private readonly store: Store,
    private readonly logger: Logger,
    /** Re-read what changed; a bad entry is for `reload` to log and skip. */
    private readonly reload: () => void,
  ) {
    this.versionStmt = store.db.prepare("select max(seq) from changes where entity in ('client', 'group', 'settings')").pluck();
  }

  /** Load now, then follow. */
  start(): void {
    this.loadNow();
    this.unsubscribe = this.store.onChange(() => this.check());
    this.timer = setInterval(() => this.check(), RELOAD_INTERVAL_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.unsubscribe?.();
  }

  private version(): string {
    return `${(this.versionStmt.get() as number | null) ?? 0}:${logBase(this.store.db).seq}`;
  }

  private loadNow(): void {
    this.loadedVersion = this.version();
    this.reload();
    this.logger.debug({ event: 'config-reloaded', version: this.loadedVersion }, 'clients, groups and settings reloaded');
  }

  private check(): void {
    try {
      if (this.version() !== this.loadedVersion) this.loadNow();
    } catch (err) {
      this.logger.error({ err: errorMessage(err) }, 'reloading configuration from the store failed');
    }
  }
}
