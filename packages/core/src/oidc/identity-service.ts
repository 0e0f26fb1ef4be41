/**
 * Which identity at an OpenID Connect provider signs in to the user portal as which otpgate user (master only, in
 * otpgate.db, not replicated; a row goes with its user). Names at a provider change (a renamed preferred_username, a
 * new UPN), and a freed name can be given to someone else: so once an identity has signed in as a user, its stable id
 * (Entra ID: tenant id + object id; elsewhere the subject) keeps signing in as that user, and only as that user.
 */
import { NotFoundError } from '@otpgate/shared';
import { recordAdminAction, type Actor, type ServiceContext } from '../services/context.js';
import { UserService } from '../services/users.js';

/** Longest subject kept: an OIDC `sub` is at most 255 ASCII characters, a tid/oid pair two GUIDs. */
export const OIDC_SUBJECT_MAX = 300;

export interface OidcIdentityView {
  username: string;
  provider: string;
  subject: string;
  created_at: number;
  last_used_at: number;
}

export type OidcIdentityOutcome = { ok: true; userId: number; linked: 'before' | 'now' } | { ok: false; reason: string };

export class OidcIdentityService {
  constructor(private readonly ctx: ServiceContext) {}

  /**
   * The user `subject` of `provider` signs in as: the one it is linked to, whatever name it carries now; else
   * `matchedUserId` (the user its name claim matched), which it is linked to from now on, unless that user is linked
   * to another identity of this provider already (a name moved to another person at the provider). Checked and
   * written in one transaction, so two sign-ins at once cannot link one user twice.
   */
  signIn(provider: string, subject: string, matchedUserId: number | undefined, now = Date.now()): OidcIdentityOutcome {
    if (subject.length === 0 || subject.length > OIDC_SUBJECT_MAX) return { ok: false, reason: `the identity's id is empty or longer than ${OIDC_SUBJECT_MAX} characters` };
    this.ctx.store.assertWritable();
    const db = this.ctx.store.db;
    return db.transaction((): OidcIdentityOutcome => {
      const linked = db.first(db.q.selectFrom('oidc_identities').select('user_id').where('provider', '=', provider).where('subject', '=', subject));
      if (linked) {
        db.run(db.q.updateTable('oidc_identities').set({ last_used_at: now }).where('provider', '=', provider).where('subject', '=', subject));
        return { ok: true, userId: linked.user_id, linked: 'before' };
      }
      if (matchedUserId === undefined) return { ok: false, reason: 'no otpgate user has that name' };
      const other = db.first(db.q.selectFrom('oidc_identities').select('subject').where('user_id', '=', matchedUserId).where('provider', '=', provider));
      if (other) return { ok: false, reason: 'the otpgate user of that name signs in with another identity of this provider' };
      db.run(db.q.insertInto('oidc_identities').values({ provider, subject, user_id: matchedUserId, created_at: now, last_used_at: now }));
      return { ok: true, userId: matchedUserId, linked: 'now' };
    });
  }

  /** The links of one user, or every user's (for the admin), by user name and provider. */
  list(username?: string): OidcIdentityView[] {
    const db = this.ctx.store.db;
    let q = db.q
      .selectFrom('oidc_identities')
      .innerJoin('users', 'users.id', 'oidc_identities.user_id')
      .select(['users.username', 'oidc_identities.provider', 'oidc_identities.subject', 'oidc_identities.created_at', 'oidc_identities.last_used_at']);
    if (username !== undefined) q = q.where('users.id', '=', new UserService(this.ctx).get(username).id);
    return db.all(q.orderBy('users.username').orderBy('oidc_identities.provider'));
  }

  /**
   * Forget which identity of `provider` signs in as the user (their account at the provider was re-created, with a
   * new id): the next identity whose name matches is linked instead.
   */
  unlink(username: string, provider: string, actor: Actor): void {
    this.ctx.store.assertWritable();
    const user = new UserService(this.ctx).get(username);
    const db = this.ctx.store.db;
    const removed = db.run(db.q.deleteFrom('oidc_identities').where('user_id', '=', user.id).where('provider', '=', provider));
    if (removed.changes === 0) throw new NotFoundError(`single sign-on link of ${user.username}`, provider);
    recordAdminAction(this.ctx, actor, 'sso.unlink', user.username, { details: { provider } });
  }
}
