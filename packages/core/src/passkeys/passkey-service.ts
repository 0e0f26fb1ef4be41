/**
 * Users' passkeys and security keys (WebAuthn credentials): stored on the master and sent on the feed like tokens.
 * The WebAuthn ceremonies themselves are the portal's (master/src/portal); this is the store's side: who has which
 * credential, its public key and signature counter, and the admin's list and remove.
 */
import { ConflictError, NotFoundError, passkeyRecordSchema, parseWith, type PasskeyRecord } from '@otpgate/shared';
import { passkeyFromRow } from '../store/entity-handlers.js';
import { recordAdminAction, type Actor, type ServiceContext } from '../services/context.js';
import { UserService } from '../services/users.js';

/** Credentials one user may register. */
export const MAX_PASSKEYS_PER_USER = 20;

export type PasskeyView = PasskeyRecord & { username: string };

export class PasskeyService {
  constructor(private readonly ctx: ServiceContext) {}

  private get store() {
    return this.ctx.store;
  }

  /** One user's credentials, or every user's (for the admin), oldest first. */
  list(username?: string): PasskeyView[] {
    const db = this.store.db;
    let q = db.q.selectFrom('passkeys').innerJoin('users', 'users.id', 'passkeys.user_id').selectAll('passkeys').select('users.username');
    if (username !== undefined) q = q.where('users.id', '=', new UserService(this.ctx).get(username).id);
    return db.all(q.orderBy('passkeys.created_at').orderBy('passkeys.id')).map(({ username: name, ...row }) => ({ ...passkeyFromRow(row), username: name }));
  }

  find(id: string): PasskeyRecord | undefined {
    return this.store.read('passkey', id);
  }

  /** Store a newly registered credential; the user's limit is checked inside the write. */
  add(record: PasskeyRecord, actor: Actor): PasskeyRecord {
    this.store.assertWritable();
    const passkey = parseWith(passkeyRecordSchema, record, 'passkey');
    const owner = this.store.db.transaction(() => {
      const owner = this.store.read('user', String(passkey.user_id));
      if (!owner) throw new NotFoundError('user', String(passkey.user_id));
      if (this.find(passkey.id)) throw new ConflictError('this passkey is registered already');
      const count = this.store.db.first(this.store.db.q.selectFrom('passkeys').select((eb) => eb.fn.countAll<number>().as('n')).where('user_id', '=', owner.id))?.n ?? 0;
      if (count >= MAX_PASSKEYS_PER_USER) throw new ConflictError(`${owner.username} has ${MAX_PASSKEYS_PER_USER} passkeys already: remove one first`);
      this.store.commit([{ entity: 'passkey', op: 'upsert', data: passkey }]);
      return owner;
    });
    recordAdminAction(this.ctx, actor, 'passkey.add', owner.username, { details: { passkey: passkey.id, label: passkey.label, passwordless: passkey.passwordless } });
    return passkey;
  }

  /**
   * After a verified sign-in: the new counter and the time. Only forward: a concurrent sign-in that stored a higher
   * counter meanwhile wins (read again inside the write).
   */
  recordUse(id: string, counter: number, now = Date.now()): void {
    this.store.db.transaction(() => {
      const current = this.find(id);
      if (!current) return;
      this.store.commit([{ entity: 'passkey', op: 'upsert', data: { ...current, counter: Math.max(current.counter, counter), last_used_at: now } }]);
    });
  }

  remove(username: string, id: string, actor: Actor): void {
    this.store.assertWritable();
    const user = new UserService(this.ctx).get(username);
    let before: PasskeyRecord | undefined;
    this.store.db.transaction(() => {
      before = this.find(id);
      if (before?.user_id !== user.id) throw new NotFoundError(`passkey of ${user.username}`, id);
      this.store.commit([{ entity: 'passkey', op: 'delete', key: id }]);
    });
    recordAdminAction(this.ctx, actor, 'passkey.remove', user.username, { details: { passkey: id, label: before?.label } });
  }
}
