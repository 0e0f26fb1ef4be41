import { randomBytes } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { sameToken } from './sessions.js';

/** Cookies are __Host- prefixed: Secure, Path=/, no Domain, so no other site or path can set or read them. */
export const COOKIE_OPTIONS = { httpOnly: true, secure: true, sameSite: 'strict', path: '/' } as const;

/**
 * A double-submit token for a sign-in form, which has no session yet: the same random value in a cookie and in a
 * hidden field. Another site can post the form but can neither read nor set the cookie, so its post is refused.
 */
export class SignInToken {
  constructor(private readonly cookie: string) {}

  /** A fresh token, set as the cookie; put it in the form's hidden field. */
  issue(reply: FastifyReply): string {
    const token = randomBytes(24).toString('base64url');
    reply.setCookie(this.cookie, token, { ...COOKIE_OPTIONS, maxAge: 3600 });
    return token;
  }

  matches(req: FastifyRequest, posted: string): boolean {
    return sameToken(posted, req.cookies[this.cookie] ?? '');
  }

  clear(reply: FastifyReply): void {
    reply.clearCookie(this.cookie, COOKIE_OPTIONS);
  }
}
