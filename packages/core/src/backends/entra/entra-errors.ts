import { z } from 'zod';
import type { RejectReason } from '@otpgate/shared';

/**
 * What one AADSTS code means for otpgate. Entra ID has sent the same code with different `error` values
 * (50076 as interaction_required and as invalid_grant + suberror basic_action) and rewords its prose over time,
 * so the number alone decides.
 */
export type EntraVerdict =
  /** The password was right; Entra only wants a second factor, which otpgate checks itself. */
  | { outcome: 'accept'; meaning: string }
  | { outcome: 'reject'; reason: RejectReason; meaning: string }
  /** Entra could not judge the password: misconfiguration (`fix` says what the admin must change) or unknown. */
  | { outcome: 'error'; meaning: string; fix?: string };

const accept = (meaning: string): EntraVerdict => ({ outcome: 'accept', meaning });
const reject = (reason: RejectReason, meaning: string): EntraVerdict => ({ outcome: 'reject', reason, meaning });
const misconfigured = (meaning: string, fix: string): EntraVerdict => ({ outcome: 'error', meaning, fix });

/** The classification table of docs: AADSTS number -> verdict. */
const VERDICTS: ReadonlyMap<number, EntraVerdict> = new Map([
  [50076, accept('password right, MFA required by policy or location')],
  [50079, accept('password right, the user must enrol in MFA')],
  [50158, accept('password right, external security challenge not satisfied')],
  [50072, accept('password right, the user must enrol in MFA (interrupt)')],
  [50074, accept('password right, strong authentication required')],
  [53003, reject('conditional-access', 'blocked by a Conditional Access policy')],
  [50126, reject('bad-password', 'invalid user name or password')],
  [50056, reject('bad-password', 'the user has no password in the directory')],
  [50034, reject('unknown-user', 'no such user in the tenant')],
  [50053, reject('locked', 'account locked (smart lockout) or sign-in blocked')],
  [50057, reject('disabled', 'account disabled')],
  [50055, reject('password-expired', 'password expired')],
  [
    7000218,
    misconfigured(
      'the app registration does not allow public client flows',
      'set "Allow public client flows" to Yes in the app registration (Authentication), or set client_secret',
    ),
  ],
  [700016, misconfigured('application not found in the tenant', 'check client_id (the application id) and tenant')],
  [90002, misconfigured('tenant not found', 'check tenant (directory id or a verified domain) and authority')],
  [
    65001,
    misconfigured(
      'consent not granted for the app',
      "grant admin consent for the app registration's API permissions (those in scope)",
    ),
  ],
]);

/** AADSTS53000-53011: Conditional Access and risk policies (device state, approved app, risk) refused the sign-in. */
const CONDITIONAL_ACCESS = { first: 53000, last: 53011 };

/**
 * Classify by AADSTS number; an unknown or missing code means "could not tell", never a wrong password. Two family
 * rules cover codes the table does not name: any 5300x is Conditional Access (so a chain never routes around the
 * policy to another backend), and `interaction_required` is only sent once the password has been checked.
 */
export function classifyAadsts(code: number | undefined, error?: string): EntraVerdict {
  const known = code === undefined ? undefined : VERDICTS.get(code);
  if (known) return known;
  if (code !== undefined && code >= CONDITIONAL_ACCESS.first && code <= CONDITIONAL_ACCESS.last) {
    return reject('conditional-access', `blocked by a Conditional Access or risk policy (AADSTS${code})`);
  }
  if (error === 'interaction_required') return accept('password right, Entra ID asks for an interaction (a second factor, which otpgate checks)');
  if (code === undefined) return { outcome: 'error', meaning: 'Entra ID gave no AADSTS code' };
  return { outcome: 'error', meaning: `unexpected answer AADSTS${code}` };
}

/** Entra's OAuth2 error body; extra fields (trace_id, claims...) are ignored. */
const errorBodySchema = z.looseObject({
  error: z.string(),
  error_description: z.string().optional(),
  error_codes: z.array(z.number().int()).optional(),
  suberror: z.string().optional(),
});
export type EntraErrorBody = z.output<typeof errorBodySchema>;

/** Only the fields that show a token was issued; the token itself is never kept. */
const tokenBodySchema = z.looseObject({ token_type: z.string(), access_token: z.string().min(1) });

export function parseErrorBody(body: unknown): EntraErrorBody | undefined {
  const parsed = errorBodySchema.safeParse(body);
  return parsed.success ? parsed.data : undefined;
}

export function isTokenBody(body: unknown): boolean {
  return tokenBodySchema.safeParse(body).success;
}

const MAX_LINE = 240;

/**
 * The first line of error_description, without its "AADSTSnnnnn: " prefix (the code is shown separately); the
 * rest (trace id, correlation id, timestamp) is noise in a log line.
 */
export function firstLine(description: string | undefined): string {
  const line = (description ?? '').split(/\r?\n/, 1)[0]!.replace(/^AADSTS\d+:\s*/, '').trim();
  return line.length > MAX_LINE ? `${line.slice(0, MAX_LINE)}…` : line;
}

/** "AADSTS50126 invalid_grant: Error validating credentials ..." for details and reports. */
export function describeError(body: EntraErrorBody): string {
  const code = body.error_codes?.[0];
  const head = code === undefined ? body.error : `AADSTS${code} ${body.error}`;
  const suberror = body.suberror ? `/${body.suberror}` : '';
  const line = firstLine(body.error_description);
  return line ? `${head}${suberror}: ${line}` : `${head}${suberror}`;
}
