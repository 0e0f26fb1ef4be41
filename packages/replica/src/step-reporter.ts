import { Agent, request } from 'undici';
import { isEmptyReport, markReported, masterTlsOptions, unreportedReport, type Logger, type Store } from '@otpgate/core';
import type { NodeConfig } from '@otpgate/shared';
import { connectionError } from './master-connection.js';
import { errorMessage } from '@otpgate/shared';

const BATCH = 500;

/**
 * Cluster-wide replay protection and lockout, replica side: codes accepted here and failures counted here are marked
 * unreported in the state database; this sends them to the master (which publishes used steps and locks to every
 * node) and marks them reported once the master has them. The requests per 5 minutes counted here ride along, for
 * the master's dashboard (auth-buckets.ts). The
 * marks live in the database, so a restart or a master outage loses nothing: they go out when the master is back.
 */
export class StepReporter {
  private timer: NodeJS.Timeout | undefined;
  private busy = false;
  private readonly agent: Agent;
  private readonly url: URL;
  private lastFailureLogged = 0;

  constructor(
    private readonly store: Store,
    private readonly config: NodeConfig,
    private readonly logger: Logger,
  ) {
    this.agent = new Agent({
      connect: masterTlsOptions(store),
      headersTimeout: 10_000,
      bodyTimeout: 10_000,
    });
    this.url = new URL('/v1/steps', store.getMeta('master_url'));
  }

  start(): void {
    this.timer = setInterval(() => void this.flush(), this.config.cluster.report_interval_ms);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
    await this.agent.destroy();
  }

  /** Send what is unreported now; returns how many the master took. */
  async flush(): Promise<number> {
    if (this.busy) return 0;
    this.busy = true;
    try {
      const report = unreportedReport(this.store, BATCH);
      if (isEmptyReport(report)) return 0;
      const response = await request(this.url, {
        dispatcher: this.agent,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(report),
      }).catch((err: unknown) => {
        // as the feed says it: a certificate that fails verification is not the master being down
        throw connectionError(this.url.origin, err);
      });
      const text = await response.body.text();
      if (response.statusCode !== 200) throw new Error(`the master answered ${response.statusCode}: ${text.slice(0, 200)}`);
      markReported(this.store, report);
      return report.steps.length;
    } catch (err) {
      // the master may be down: the steps stay marked and go out later; say so once a minute at most
      if (Date.now() - this.lastFailureLogged > 60_000) {
        this.lastFailureLogged = Date.now();
        this.logger.warn({ event: 'step-report-failed', err: errorMessage(err) }, 'could not report used codes to the master; will retry');
      }
      return 0;
    } finally {
      this.busy = false;
    }
  }
}
