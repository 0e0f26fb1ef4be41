/**
 * JSON bodies for the few routes that take them (the portal's WebAuthn calls): parsed within a scope only, so every
 * other route keeps taking forms, and held to the form body limit.
 */
import type { FastifyInstance } from 'fastify';
import { InvalidInputError } from '@otpgate/shared';
import { FORM_BODY_BYTES } from './input-limits.js';

export function acceptJsonBodies(scope: FastifyInstance): void {
  scope.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: FORM_BODY_BYTES }, (_req, body, done) => {
    try {
      done(null, JSON.parse(body as string));
    } catch {
      done(Object.assign(new InvalidInputError('is not JSON', 'request body'), { statusCode: 400 }), undefined);
    }
  });
}
