/**
 * Push approval between nodes: a replica holding a login asks the master to create its push (POST /v1/pushes) and
 * asks, about twice a second while it holds any, which pushes were decided (POST /v1/pushes/decisions). Only the
 * master keeps pushes (its state database), so the portal that decides them and every node see one truth.
 */
import { z } from 'zod';

/** What became of a push: pending until the user answers or its time runs out. */
export const PUSH_STATUSES = ['pending', 'approved', 'denied', 'timeout', 'not-me'] as const;
export type PushStatus = (typeof PUSH_STATUSES)[number];

/** A pending push's id: 128 random bits, base64url (it names the approval page). */
export const PUSH_ID = /^[A-Za-z0-9_-]{22}$/;
/** The number shown in an Access-Challenge for number matching. */
export const PUSH_NUMBER = /^[0-9]{2}$/;

export const pushCreateSchema = z.strictObject({
  /** RADIUS client + Request Authenticator + user: a retransmission (on any node) finds the same push. */
  request_key: z.string().min(1).max(256),
  user_id: z.number().int().min(1),
  client: z.string().min(1).max(128),
  /** Where the request came from (the NAS's address), shown on the approval page. */
  client_address: z.string().max(64),
  number: z.string().regex(PUSH_NUMBER).optional(),
});
export type PushCreate = z.output<typeof pushCreateSchema>;

export const pushCreateAnswerSchema = z.union([
  /** The push (new, or the one made for an earlier copy of the request, in which case it may be decided already). */
  z.strictObject({ id: z.string().regex(PUSH_ID), created_at: z.number().int(), expires_at: z.number().int(), status: z.enum(PUSH_STATUSES) }),
  /** Not sent: the user had enough pushes this minute, or may not log in now. */
  z.strictObject({ refused: z.enum(['rate-limited', 'locked', 'disabled']) }),
]);
export type PushCreateAnswer = z.output<typeof pushCreateAnswerSchema>;

export const pushDecisionsQuerySchema = z.strictObject({
  /** Decisions made at or after this time (ms), as the master's clock reported it in the last answer. */
  since: z.number().int().min(0),
});
export type PushDecisionsQuery = z.output<typeof pushDecisionsQuerySchema>;

export const pushDecisionSchema = z.strictObject({
  id: z.string().regex(PUSH_ID),
  status: z.enum(PUSH_STATUSES),
  decided_at: z.number().int(),
});
export type PushDecision = z.output<typeof pushDecisionSchema>;

/** Decisions in one answer at most: a full answer is followed by another from its last decision's time. */
export const MAX_PUSH_DECISIONS = 10_000;

export const pushDecisionsAnswerSchema = z.strictObject({
  decisions: z.array(pushDecisionSchema).max(MAX_PUSH_DECISIONS),
  /** The master's clock when it answered: the next question's `since`, less a margin. */
  now: z.number().int(),
});
export type PushDecisionsAnswer = z.output<typeof pushDecisionsAnswerSchema>;
