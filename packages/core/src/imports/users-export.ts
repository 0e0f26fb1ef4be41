import type { Store } from '../store/store.js';
import { csvLine } from './csv.js';

/** The columns of a users export: the users CSV import's own first four, then facts for people (never secrets). */
export const USERS_EXPORT_COLUMNS = ['username', 'display name', 'email', 'groups', 'status', 'tokens', 'local password', 'created'] as const;

/** Every user as CSV, without secrets: no token seeds, no password hashes (only whether a local password is set). */
export function exportUsersCsv(store: Store): string {
  const db = store.db;
  const tokens = new Map(
    db.all(db.q.selectFrom('tokens').select(['user_id', (eb) => eb.fn.countAll().as('n')]).groupBy('user_id')).map((r) => [r.user_id, Number(r.n)]),
  );
  const lines = [csvLine([...USERS_EXPORT_COLUMNS])];
  const users = store.readAll('user').sort((a, b) => a.username.localeCompare(b.username));
  for (const u of users) {
    lines.push(
      csvLine([
        u.username,
        u.display_name,
        u.email,
        u.groups.join(';'),
        u.status,
        String(tokens.get(u.id) ?? 0),
        u.password_hash === null ? 'no' : 'yes',
        new Date(u.created_at).toISOString(),
      ]),
    );
  }
  return lines.join('');
}
