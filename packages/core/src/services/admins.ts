import { adminRecordSchema, parseWith, type AdminRecord } from '@otpgate/shared';
import { hashPassword, verifyPasswordHash } from '../backends/local.js';
import { recordAdminAction, type Actor, type ServiceContext } from './context.js';

export const BUILTIN_ADMIN = 'admin';

/** Admin accounts of the web UI. Their hashes replicate, so the admin password is the same on every node. */
export class AdminService {
  constructor(private readonly ctx: ServiceContext) {}

  find(username: string): AdminRecord | undefined {
    return this.ctx.store.read('admin', username);
  }

  /** Create the account or change its password. */
  async setPassword(username: string, password: string, actor: Actor): Promise<AdminRecord> {
    this.ctx.store.assertWritable();
    const password_hash = await hashPassword(password);
    const now = Date.now();
    const record = parseWith(
      adminRecordSchema,
      { username, password_hash, created_at: this.find(username)?.created_at ?? now, updated_at: now },
      'admin',
    );
    this.ctx.store.commit([{ entity: 'admin', op: 'upsert', data: record }]);
    recordAdminAction(this.ctx, actor, 'admin.set-password', username);
    return record;
  }

  /**
   * True when the password is the admin's (works on replicas too: the hash is replicated). A name that is no admin
   * costs the same argon2id work, so the time taken does not tell which admin names exist.
   */
  async verify(username: string, password: string): Promise<boolean> {
    return verifyPasswordHash(this.find(username)?.password_hash, password);
  }

  list(): Array<Omit<AdminRecord, 'password_hash'>> {
    return this.ctx.store.readAll('admin').map(({ password_hash: _hash, ...rest }) => rest);
  }
}
