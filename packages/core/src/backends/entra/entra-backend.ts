import { randomBytes } from 'node:crypto';
import type { Agent } from 'undici';
import type { EntraBackendSettings } from '@otpgate/shared';
import type { Logger } from '../../logger.js';
import type { ConnectionReport, PasswordResult, PasswordSubject, TestableBackend } from '../backend.js';
import { classifyAadsts, describeError, firstLine, isTokenBody, parseErrorBody, type EntraErrorBody } from './entra-errors.js';
import { createAgent, describeTransportError, postForm, type HttpAnswer } from './entra-http.js';

/** What one token request came to, before otpgate decides anything. */
type Exchange =
  | { kind: 'unreachable'; detail: string }
  /** HTTP 200 with a token: the password alone was enough. */
  | { kind: 'token'; status: number }
  | { kind: 'error'; status: number; body: EntraErrorBody }
  /** An HTTP answer that is neither a token nor an OAuth2 error body (a proxy's page, a 5xx without JSON...). */
  | { kind: 'unreadable'; status: number; detail: string };

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** A short, printable excerpt of a body that is not JSON, for the detail. */
function excerpt(text: string): string {
  const flat = text.replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').trim();
  return flat.length > 80 ? `${flat.slice(0, 80)}…` : flat || '(empty body)';
}

/**
 * Microsoft Entra ID through the OAuth2 resource owner password credentials grant. Entra answers "MFA required"
 * (AADSTS50076/50079/50158) only after the password proved right, so those answers accept: otpgate checks the
 * one-time code itself. A token for the password alone means the account has no MFA at all, refused unless
 * accept_without_mfa. Misconfiguration, timeouts and unknown answers are backend errors, never a wrong password.
 */
export class EntraPasswordBackend implements TestableBackend {
  readonly name: string;
  private readonly agent: Agent;
  private readonly tokenUrl: string;

  constructor(
    private readonly settings: EntraBackendSettings,
    private readonly logger: Logger,
  ) {
    this.name = settings.name;
    this.tokenUrl = `${settings.authority.replace(/\/+$/, '')}/${encodeURIComponent(settings.tenant)}/oauth2/v2.0/token`;
    this.agent = createAgent({ timeoutMs: settings.timeout_ms, caCertificates: settings.ca_certificates });
  }

  /** "user" -> "user@upn_domain" when the name has no @ and a domain is configured. */
  upn(username: string): string {
    const domain = this.settings.upn_domain.replace(/^@/, '');
    return username.includes('@') || domain === '' ? username : `${username}@${domain}`;
  }

  async verify(subject: PasswordSubject, password: string): Promise<PasswordResult> {
    // an empty password is never sent: nothing to check, and some directories treat it as an anonymous bind
    if (password === '') {
      return { outcome: 'reject', backend: this.name, reason: 'missing-password', detail: 'empty password, Entra ID not asked' };
    }
    const upn = this.upn(subject.username);
    if (upn === '') return { outcome: 'reject', backend: this.name, reason: 'unknown-user', detail: 'empty user name' };

    const exchange = await this.exchange(upn, password);
    switch (exchange.kind) {
      case 'unreachable':
        return this.error(`${this.tokenUrl}: ${exchange.detail}`, password);
      case 'unreadable':
        return this.error(`HTTP ${exchange.status}: ${exchange.detail}`, password);
      case 'token':
        return this.singleFactor(upn);
      case 'error':
        return this.classify(upn, exchange.status, exchange.body, password);
    }
  }

  private classify(upn: string, status: number, body: EntraErrorBody, password: string): PasswordResult {
    const described = describeError(body);
    // a 5xx is Entra's own trouble, whatever code it carries
    if (status >= 500) return this.error(`HTTP ${status}: ${described}`, password);
    const verdict = classifyAadsts(body.error_codes?.[0], body.error);
    switch (verdict.outcome) {
      case 'accept':
        this.logger.debug({ backend: this.name, upn, aadsts: body.error_codes?.[0] }, `Entra ID: ${verdict.meaning}`);
        return { outcome: 'accept', backend: this.name };
      case 'reject':
        return { outcome: 'reject', backend: this.name, reason: verdict.reason, detail: this.scrub(`${verdict.meaning}: ${described}`, password) };
      case 'error': {
        const fix = verdict.fix ? `; fix: ${verdict.fix}` : '';
        return this.error(`${verdict.meaning} (HTTP ${status}, ${described})${fix}`, password);
      }
    }
  }

  /** The password alone got a token: the account has no MFA in Entra ID. */
  private singleFactor(upn: string): PasswordResult {
    if (this.settings.accept_without_mfa) {
      this.logger.warn({ backend: this.name, upn }, `Entra ID issued a token for ${upn} on the password alone (no MFA); accepted because accept_without_mfa is true`);
      return { outcome: 'accept', backend: this.name };
    }
    this.logger.warn({ backend: this.name, upn }, `Entra ID issued a token for ${upn} on the password alone (no MFA); refused`);
    return {
      outcome: 'reject',
      backend: this.name,
      reason: 'single-factor-not-allowed',
      detail:
        'the password is right but Entra ID requires no MFA for this account (a token was issued on the password alone); ' +
        'require MFA for it in Entra ID, or set accept_without_mfa',
    };
  }

  private error(detail: string, password: string): PasswordResult {
    return { outcome: 'error', backend: this.name, detail: this.scrub(detail, password) };
  }

  /** Second line of defence: should a server ever echo the password, it still never reaches a log. */
  private scrub(detail: string, password: string): string {
    return password.length >= 4 ? detail.split(password).join('[redacted]') : detail;
  }

  private async exchange(upn: string, password: string): Promise<Exchange> {
    const form = new URLSearchParams({
      grant_type: 'password',
      client_id: this.settings.client_id,
      scope: this.settings.scope,
      username: upn,
      password,
    });
    if (this.settings.client_secret) form.set('client_secret', this.settings.client_secret);

    let answer: HttpAnswer;
    try {
      answer = await postForm(this.agent, this.tokenUrl, form, this.settings.timeout_ms);
    } catch (err) {
      return { kind: 'unreachable', detail: describeTransportError(err, this.settings.timeout_ms) };
    }
    const json = parseJson(answer.text);
    if (answer.status === 200 && isTokenBody(json)) return { kind: 'token', status: answer.status };
    const body = parseErrorBody(json);
    if (body && answer.status >= 400) return { kind: 'error', status: answer.status, body };
    const what = json === undefined ? `not JSON (${answer.contentType || 'no content type'}): ${excerpt(answer.text)}` : 'JSON that is neither a token nor an OAuth2 error';
    return { kind: 'unreadable', status: answer.status, detail: what };
  }

  /**
   * Sends the given user name (or a made-up one) with a random, certainly wrong password and reports what Entra ID
   * said. An answer about the user (no such user, wrong password, MFA...) proves the tenant and the app registration
   * are found and usable. A real user name counts as one failed sign-in towards Entra's smart lockout.
   */
  async testConnection(username?: string): Promise<ConnectionReport> {
    const upn = username ? this.upn(username) : this.probeUpn();
    const password = `otpgate-wrong-password-${randomBytes(12).toString('base64url')}`;
    const exchange = await this.exchange(upn, password);
    const endpoint = `POST ${this.tokenUrl}`;
    switch (exchange.kind) {
      case 'unreachable':
        return { ok: false, steps: [{ step: 'token endpoint', ok: false, detail: `${endpoint}: ${exchange.detail}` }] };
      case 'unreadable':
        return {
          ok: false,
          steps: [
            { step: 'token endpoint', ok: true, detail: `${endpoint}: HTTP ${exchange.status}` },
            { step: 'answer', ok: false, detail: `${exchange.detail}; not an Entra ID token endpoint answer` },
          ],
        };
      case 'token':
        return {
          ok: false,
          steps: [
            { step: 'token endpoint', ok: true, detail: `${endpoint}: HTTP ${exchange.status}` },
            { step: 'tenant and app', ok: false, detail: `a token was issued for ${upn} with a wrong password: this endpoint does not check passwords like Entra ID` },
          ],
        };
      case 'error':
        return this.reportError(endpoint, upn, exchange.status, exchange.body);
    }
  }

  private reportError(endpoint: string, upn: string, status: number, body: EntraErrorBody): ConnectionReport {
    const code = body.error_codes?.[0];
    const verdict = classifyAadsts(code, body.error);
    // any answer about the user means Entra found the tenant and accepted the app for this grant
    const ok = status < 500 && verdict.outcome !== 'error';
    const conclusion = ok
      ? `reachable and configured: tenant and app registration found, the user ${upn} was evaluated (${verdict.meaning})`
      : `${verdict.meaning}${verdict.outcome === 'error' && verdict.fix ? `; fix: ${verdict.fix}` : ''}`;
    return {
      ok,
      steps: [
        { step: 'token endpoint', ok: true, detail: `${endpoint}: HTTP ${status}` },
        { step: 'error', ok, detail: body.suberror ? `${body.error} (suberror ${body.suberror})` : body.error },
        { step: 'error_codes', ok, detail: body.error_codes ? `[${body.error_codes.join(', ')}]` : '(none)' },
        { step: 'error_description', ok, detail: firstLine(body.error_description) || '(none)' },
        { step: 'tenant and app', ok, detail: conclusion },
      ],
    };
  }

  /** A user name that cannot exist, in the tenant's domain when one is known. */
  private probeUpn(): string {
    const domain = this.settings.upn_domain.replace(/^@/, '') || (this.settings.tenant.includes('.') ? this.settings.tenant : 'example.invalid');
    return `otpgate-connection-test-${randomBytes(6).toString('hex')}@${domain}`;
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}
