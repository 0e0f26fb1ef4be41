/**
 * The WebAuthn ceremonies of the user portal, with @simplewebauthn/server (which loads reflect-metadata: it patches
 * the global Reflect, see README). The relying party is portal.rp_id / portal.origin; a user's handle is their
 * otpgate user id, so a passwordless sign-in names its user without a user name typed.
 *
 * What comes from the browser is checked against a schema with a length limit on every field before the library sees
 * it; a signature counter that does not move forward (a cloned authenticator) is refused and logged.
 */
import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
  type AuthenticationResponseJSON,
  type PublicKeyCredentialCreationOptionsJSON,
  type PublicKeyCredentialRequestOptionsJSON,
  type RegistrationResponseJSON,
} from '@simplewebauthn/server';
import { z } from 'zod';
import { PASSKEY_TRANSPORTS, type PasskeyRecord } from '@otpgate/shared';

const b64url = (max: number) => z.string().min(1).max(max).regex(/^[A-Za-z0-9_-]+={0,2}$/);
const transports = z.array(z.enum(PASSKEY_TRANSPORTS)).max(PASSKEY_TRANSPORTS.length).optional();
const extensions = z.strictObject({ credProps: z.strictObject({ rk: z.boolean().optional() }).optional() }).partial().passthrough();

export const registrationResponseSchema = z.object({
  id: b64url(1366),
  rawId: b64url(1366),
  type: z.literal('public-key'),
  response: z.object({
    clientDataJSON: b64url(4096),
    attestationObject: b64url(16384),
    authenticatorData: b64url(8192).optional(),
    transports,
    publicKeyAlgorithm: z.number().int().optional(),
    publicKey: b64url(4096).optional(),
  }),
  authenticatorAttachment: z.enum(['platform', 'cross-platform']).optional(),
  clientExtensionResults: extensions,
});

export const authenticationResponseSchema = z.object({
  id: b64url(1366),
  rawId: b64url(1366),
  type: z.literal('public-key'),
  response: z.object({
    clientDataJSON: b64url(4096),
    authenticatorData: b64url(8192),
    /** ML-DSA (post-quantum) signatures run to 4.6 KB: chromium's virtual authenticator makes them. */
    signature: b64url(8192),
    userHandle: b64url(128).optional(),
  }),
  authenticatorAttachment: z.enum(['platform', 'cross-platform']).optional(),
  clientExtensionResults: extensions,
});

function malformed(error: z.ZodError): string {
  const issue = error.issues[0];
  return `malformed response: ${issue ? `${issue.path.join('.')}: ${issue.message}` : ''}`;
}

export interface RelyingParty {
  id: string;
  origin: string;
  name: string;
}

/** The user handle of a user: their id, so it names no one outside otpgate. */
export function userHandle(userId: number): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(String(userId));
}

/** The user id a handle names (base64url from the browser), or undefined. */
export function userIdOfHandle(handle: string | undefined): number | undefined {
  if (!handle) return undefined;
  const text = Buffer.from(handle, 'base64url').toString('utf8');
  return /^[1-9][0-9]{0,15}$/.test(text) ? Number(text) : undefined;
}

/** A counter that does not move past the stored one, where either is kept: the authenticator may have been cloned. */
export function counterWentBack(stored: number, received: number): boolean {
  return (stored > 0 || received > 0) && received <= stored;
}

export class PasskeyCeremonies {
  constructor(readonly rp: RelyingParty) {}

  /** Options to register a new credential: discoverable where the authenticator can, user verification required. */
  registrationOptions(user: { id: number; username: string; displayName: string }, existing: readonly PasskeyRecord[]): Promise<PublicKeyCredentialCreationOptionsJSON> {
    return generateRegistrationOptions({
      rpName: this.rp.name,
      rpID: this.rp.id,
      userName: user.username,
      userDisplayName: user.displayName || user.username,
      userID: userHandle(user.id),
      attestationType: 'none',
      excludeCredentials: existing.map((p) => ({ id: p.id, transports: p.transports })),
      authenticatorSelection: { residentKey: 'preferred', userVerification: 'preferred' },
    });
  }

  /** The new credential, or why not. */
  async verifyRegistration(body: unknown, challenge: string): Promise<Omit<PasskeyRecord, 'user_id' | 'label' | 'created_at' | 'last_used_at'> | string> {
    const parsed = registrationResponseSchema.safeParse(body);
    if (!parsed.success) return malformed(parsed.error);
    const response = parsed.data as RegistrationResponseJSON;
    const result = await verifyRegistrationResponse({ response, expectedChallenge: challenge, expectedOrigin: this.rp.origin, expectedRPID: this.rp.id, requireUserVerification: false });
    if (!result.verified) return 'the response did not verify';
    const { credential, userVerified } = result.registrationInfo;
    return {
      id: credential.id,
      public_key: Buffer.from(credential.publicKey).toString('base64url'),
      counter: credential.counter,
      transports: (credential.transports ?? []).filter((t): t is PasskeyRecord['transports'][number] => (PASSKEY_TRANSPORTS as readonly string[]).includes(t)),
      passwordless: userVerified && response.clientExtensionResults.credProps?.rk === true,
    };
  }

  /** Options for a sign-in: any discoverable credential (passwordless), or one of `allowed` (second factor). */
  authenticationOptions(allowed?: readonly PasskeyRecord[]): Promise<PublicKeyCredentialRequestOptionsJSON> {
    return generateAuthenticationOptions({
      rpID: this.rp.id,
      allowCredentials: allowed?.map((p) => ({ id: p.id, transports: p.transports })),
      userVerification: allowed ? 'preferred' : 'required',
    });
  }

  /** The parsed assertion (which credential, which user handle), before it is looked up. */
  parseAuthentication(body: unknown): AuthenticationResponseJSON | string {
    const parsed = authenticationResponseSchema.safeParse(body);
    return parsed.success ? parsed.data : malformed(parsed.error);
  }

  /** The assertion's new counter once it verifies against the stored credential, or why not. */
  async verifyAuthentication(response: AuthenticationResponseJSON, challenge: string, passkey: PasskeyRecord, requireUserVerification: boolean): Promise<{ counter: number } | string> {
    // the library is given counter 0, so that it checks the signature only: the counter is judged here, and only
    // for a signed assertion (an unsigned one claiming a lower counter must not raise the cloning alarm)
    const result = await verifyAuthenticationResponse({
      response,
      expectedChallenge: challenge,
      expectedOrigin: this.rp.origin,
      expectedRPID: this.rp.id,
      credential: { id: passkey.id, publicKey: Buffer.from(passkey.public_key, 'base64url'), counter: 0, transports: passkey.transports },
      requireUserVerification,
    });
    if (!result.verified) return 'the signature did not verify';
    const received = result.authenticationInfo.newCounter;
    if (counterWentBack(passkey.counter, received)) return `signature counter went back (stored ${passkey.counter}, received ${received}): the authenticator may be cloned`;
    return { counter: received };
  }
}
