import { createHash } from 'node:crypto';
import { InvalidInputError, adminRecordSchema, parseWith, type AdminRecord } from '@otpgate/shared';
import { hashPassword, verifyPasswordHash } from '../backends/local.js';
import { recordAdminAction, required, type Actor, type ServiceContext } from './context.js';

export const BUILTIN_ADMIN = 'admin';

/**
 * What a session remembers of the account it signed in with: it changes whenever the password is set, so comparing
 * it on each request ends the session after a reset made anywhere (the CLI, another node). A hash of the record's
 * hash and time, so the session holds nothing a password could be guessed against.
 */
export function adminStamp(record: AdminRecord): string {
  return createHash('sha256').update(`${record.password_hash}\n${record.updated_at}`).digest('base64url');
}

/** Admin accounts of the web UI. Their hashes replicate, so the admin password is the same on every node. */
export class AdminService {
  constructor(private readonly ctx: ServiceContext) {}

  find(username: string): AdminRecord | undefined {
    return this.ctx.store.read('admin', username);
  }

  /** The account's stamp as it is now (see adminStamp), or undefined when there is no such account. */
  stamp(username: string): string | undefined {
    const admin = this.find(username);
    return admin && adminStamp(admin);
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
   * Remove an account: its sessions end at their next request, on every node. The built-in account stays (it manages
   * the others in the UI); a new password locks out whoever knew its old one.
   */
  remove(username: string, actor: Actor): void {
    this.ctx.store.assertWritable();
    if (username.toLowerCase() === BUILTIN_ADMIN) {
      throw new InvalidInputError(`the built-in "${BUILTIN_ADMIN}" account cannot be removed; give it a new password instead (otpgate admin set-password --generate)`);
    }
    const before = this.ctx.store.db.transaction(() => {
      const admin = required(this.find(username), 'admin account', username);
      this.ctx.store.commit([{ entity: 'admin', op: 'delete', key: admin.username }]);
      return admin;
    });
    recordAdminAction(this.ctx, actor, 'admin.remove', username, { before });
  }

  /**
   * The account's name and stamp when the password is the admin's (works on replicas too: the hash is replicated). A
   * name that is no admin costs the same argon2id work, so the time taken does not tell which admin names exist.
   */
  async authenticate(username: string, password: string): Promise<{ username: string; stamp: string } | undefined> {
    const admin = this.find(username);
    const right = await verifyPasswordHash(admin?.password_hash, password);
    return right && admin ? { username: admin.username, stamp: adminStamp(admin) } : undefined;
  }

  /** True when the password is the admin's (see authenticate). */
  async verify(username: string, password: string): Promise<boolean> {
    return (await this.authenticate(username, password)) !== undefined;
  }

  list(): Array<Omit<AdminRecord, 'password_hash'>> {
    return this.ctx.store.readAll('admin').map(({ password_hash: _hash, ...rest }) => rest);
  }
}
