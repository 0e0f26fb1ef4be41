/**
 * The master's side of a replica's held login (POST /v1/pushes and /v1/pushes/decisions): the same table and the same
 * checks as a push made on the master itself, with the user named and their status read from the master's store.
 * The master's push service notices the new push and notifies the user, as for its own.
 */
import { pushCreateSchema, pushDecisionsQuerySchema, InvalidInputError, type PushCreateAnswer, type PushDecisionsAnswer } from '@otpgate/shared';
import type { Store } from '../store/store.js';
import { PushTable } from './push-table.js';

export function claimPush(store: Store, body: unknown, now = Date.now()): PushCreateAnswer {
  const parsed = pushCreateSchema.safeParse(body);
  if (!parsed.success) throw new InvalidInputError(parsed.error.issues[0]?.message ?? 'malformed', 'push');
  const push = parsed.data;
  const user = store.read('user', String(push.user_id));
  if (user?.status !== 'active') return { refused: 'disabled' };
  const s = store.settings().push;
  return new PushTable(store.state).create({ ...push, username: user.username }, { timeoutMs: s.timeout_seconds * 1000, perMinute: s.max_per_user_per_minute }, now);
}

export function pushDecisions(store: Store, body: unknown): PushDecisionsAnswer {
  const parsed = pushDecisionsQuerySchema.safeParse(body);
  if (!parsed.success) throw new InvalidInputError(parsed.error.issues[0]?.message ?? 'malformed', 'push decisions');
  const now = Date.now();
  return { decisions: new PushTable(store.state).decisionsSince(parsed.data.since), now };
}
