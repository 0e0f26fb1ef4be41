import type { HardwareTokenRecord, Settings, TokenRecord } from '@otpgate/shared';
import type { Store } from '../store/store.js';

export interface UserRef {
  id: number;
  username: string;
}

/**
 * What an import checks its rows against, read once: user names, groups and inventory serials (not one query per
 * row, which 100,000 rows could not afford). Names compare without case, as the tables do.
 */
export class ImportLookup {
  readonly settings: Settings;
  readonly users = new Map<string, UserRef>();
  readonly groups = new Map<string, string>();
  readonly serials = new Map<string, { id: number; token_id: number | null }>();

  constructor(readonly store: Store) {
    const db = store.db;
    this.settings = store.settings();
    for (const u of db.all(db.q.selectFrom('users').select(['id', 'username']))) this.users.set(u.username.toLowerCase(), u);
    for (const g of db.all(db.q.selectFrom('groups').select('name'))) this.groups.set(g.name.toLowerCase(), g.name);
    for (const h of db.all(db.q.selectFrom('hardware_tokens').select(['id', 'serial', 'token_id']))) this.serials.set(h.serial, h);
  }

  user(name: string): UserRef | undefined {
    return this.users.get(name.toLowerCase());
  }

  hardware(id: number): HardwareTokenRecord | undefined {
    return this.store.read('hardware_token', String(id));
  }

  token(id: number): TokenRecord | undefined {
    return this.store.read('token', String(id));
  }

  usernameOf(userId: number): string | undefined {
    return this.store.read('user', String(userId))?.username;
  }

  /** The secrets of a user's tokens (base32), to tell a token already there from a new one. */
  tokenSecrets(userId: number): Set<string> {
    const db = this.store.db;
    const ids = db.all(db.q.selectFrom('tokens').select('id').where('user_id', '=', userId));
    return new Set(ids.map(({ id }) => this.token(id)?.secret).filter((s): s is string => s !== undefined));
  }
}
