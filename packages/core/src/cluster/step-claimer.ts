/**
 * A replica's claim on a code before it answers Accept: one call to the master over the mutual-TLS channel, which
 * stores the step in its state database only if no node used it (token-state.ts claimStep). So a code sent to two
 * nodes at the same instant gets one Accept. When the master does not answer within the timeout, `best-effort` decides
 * locally (the step is reported afterwards, as before claims existed) and `strict` refuses; both are counted, and said
 * in the log once a minute.
 *
 * The same channel carries a replica's use of a one-time VPN credential: only the master holds those, so a replica asks
 * it for each (whatever cluster.replay_claim says; with the master unreachable, a credential cannot be checked).
 */
import { Agent, request } from 'undici';
import {
  certificateErrorCode,
  claimAnswerSchema,
  errorMessage,
  pushCreateAnswerSchema,
  pushDecisionsAnswerSchema,
  vpnCredentialAnswerSchema,
  type PushCreate,
  type PushCreateAnswer,
  type PushDecisionsAnswer,
  type TokenStateRecord,
  type VpnCredentialAnswer,
  type VpnCredentialClaim,
} from '@otpgate/shared';
import { LogLimiter, type Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import type { Store } from '../store/store.js';
import { masterTlsOptions } from './master-tls.js';

export type ClaimOutcome = 'claimed' | 'replay' | 'unavailable';

const LOG_INTERVAL_MS = 60_000;
/** Connections to the master per RADIUS thread: claims take a millisecond or two each, so a few carry hundreds a second. */
const CONNECTIONS = 4;
/**
 * How long a connection to the master may take to be made: longer than a claim may wait, so that a handshake slowed
 * by a busy master completes and serves the next claims, instead of being cut at each claim's timeout and begun anew.
 */
const CONNECT_TIMEOUT_MS = 10_000;

export class StepClaimer {
  private readonly agent: Agent;
  private readonly url: URL;
  private readonly credentialUrl: URL;
  private readonly pushUrl: URL;
  private readonly decisionsUrl: URL;
  /** One line a minute for each kind of failure: a certificate refused is not hidden behind a timeout's line. */
  private readonly failures = new LogLimiter(LOG_INTERVAL_MS);

  constructor(
    store: Store,
    masterUrl: string,
    /** cluster.replay_claim: with 'off', only VPN credentials are asked for. */
    readonly mode: 'strict' | 'best-effort' | 'off',
    private readonly timeoutMs: number,
    private readonly logger: Logger,
    private readonly metrics: Metrics,
  ) {
    // the same TLS as the feed (master-tls.ts: the cluster CA, no retired master certificate), and a few kept-alive
    // connections: under load, claims wait their turn on a warm connection instead of each opening a new one, whose
    // handshake costs both nodes CPU just when they have least of it
    this.agent = new Agent({
      connect: { ...masterTlsOptions(store), timeout: CONNECT_TIMEOUT_MS },
      connections: CONNECTIONS,
      keepAliveTimeout: 30_000,
    });
    this.url = new URL('/v1/claims', masterUrl);
    this.credentialUrl = new URL('/v1/vpn-credentials/use', masterUrl);
    this.pushUrl = new URL('/v1/pushes', masterUrl);
    this.decisionsUrl = new URL('/v1/pushes/decisions', masterUrl);
  }

  /**
   * Open the mutual-TLS connection now, so the first claim does not pay for the handshake within its timeout. A
   * master that cannot be reached yet is no error here.
   */
  warmUp(): void {
    request(new URL('/v1/ping', this.url), { dispatcher: this.agent, method: 'GET', signal: AbortSignal.timeout(10_000) })
      .then((r) => r.body.dump())
      .catch(() => undefined);
  }

  async claim(step: TokenStateRecord): Promise<ClaimOutcome> {
    // a step the master refuses as outside the window is no step this node should accept either
    const outcome = await this.ask(this.url, step, (json) => (claimAnswerSchema.parse(json).claimed ? 'claimed' : 'replay'), 'claim a used code from the master');
    this.metrics.replayClaims.inc({ result: outcome });
    return outcome;
  }

  /** Use a one-time VPN credential at the master, which alone holds them. */
  async useVpnCredential(claim: VpnCredentialClaim): Promise<VpnCredentialAnswer | 'unavailable'> {
    return this.ask(this.credentialUrl, claim, (json) => vpnCredentialAnswerSchema.parse(json), 'check a one-time VPN credential with the master');
  }

  /** Make (or find) the push for a held login at the master, which alone keeps pushes. */
  async createPush(push: PushCreate): Promise<PushCreateAnswer | 'unavailable'> {
    return this.ask(this.pushUrl, push, (json) => pushCreateAnswerSchema.parse(json), 'ask the master for a push approval');
  }

  /** The pushes the master saw decided at or after `since` (its clock). */
  async pushDecisions(since: number): Promise<PushDecisionsAnswer | 'unavailable'> {
    return this.ask(this.decisionsUrl, { since }, (json) => pushDecisionsAnswerSchema.parse(json), 'ask the master which pushes were decided');
  }

  /**
   * The master's answer, or 'unavailable' once the timeout has passed, whatever the connection is doing: undici
   * leaves a request's abort signal unheard while its connection is still being made, so a master slow to finish TLS
   * handshakes (a busy main thread) held an Accept for the connect timeout and more, several seconds under load.
   */
  private async ask<T>(url: URL, body: unknown, parse: (json: unknown) => T, what: string): Promise<T | 'unavailable'> {
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const err = new Error(`no answer within ${this.timeoutMs} ms`);
        controller.abort(err);
        reject(err);
      }, this.timeoutMs);
    });
    const asked = this.send(url, body, controller.signal).then(parse);
    // the request may settle after the deadline: its outcome then goes nowhere
    asked.catch(() => undefined);
    try {
      return await Promise.race([asked, deadline]);
    } catch (err) {
      if (this.failures.allow(certificateErrorCode(err) ?? 'unavailable')) {
        const then = this.mode === 'strict' ? 'refusing codes until it answers (cluster.replay_claim: strict)' : 'deciding locally and reporting afterwards';
        const credentials = 'one-time VPN credentials and push logins are refused until it answers';
        this.logger.warn({ event: 'replay-claim-unavailable', err: errorMessage(err) }, `could not ${what}: ${then}; ${credentials}`);
      }
      return 'unavailable';
    } finally {
      clearTimeout(timer);
    }
  }

  /** The master's JSON answer. */
  private async send(url: URL, body: unknown, signal: AbortSignal): Promise<unknown> {
    const response = await request(url, {
      dispatcher: this.agent,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal,
    });
    const text = await response.body.text();
    if (response.statusCode !== 200) throw new Error(`the master answered ${response.statusCode}: ${text.slice(0, 200)}`);
    return JSON.parse(text);
  }

  async close(): Promise<void> {
    await this.agent.destroy();
  }
}
