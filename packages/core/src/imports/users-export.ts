import type { Store } from '../store/store.js';
import { csvLine } from './csv.js';

/** The columns of a users export: the users CSV import's own first four, then facts for people (never secrets). */
export const USERS_EXPORT_COLUMNS = ['username', 'display name', 'email', 'groups', 'status', 'tokens', 'local password', 'created'] as const;

/** Users read per page (one query for them, one for their groups, one for their token counts). */
const EXPORT_PAGE = 1000;

interface ExportRow {
  id: number;
  username: string;
  display_name: string;
  email: string;
  status: string;
  has_password: 0 | 1;
  created_at: number;
}

/**
 * Every user as CSV, without secrets: no token seeds, no password hashes (only whether a local password is set). In
 * user-name order (the admin UI's), a chunk of lines per page of users, each page an indexed seek after the last name:
 * a million users are never in memory at once, and a stream of the chunks lets the serving thread answer between
 * pages. Each page is read as it is asked for (a user renamed meanwhile may be missed or come twice; inside one read
 * transaction, as the CLI reads it, the pages are one view).
 */
export function* usersCsvChunks(store: Store): Generator<string> {
  yield csvLine([...USERS_EXPORT_COLUMNS]);
  const db = store.db;
  const page = db.prepare(
    `select id, username, display_name, email, status, password_hash is not null as has_password, created_at
       from users where username > ? order by username limit ${EXPORT_PAGE}`,
  );
  const groups = db.prepare(
    `select user_groups.user_id, groups.name from user_groups join groups on groups.id = user_groups.group_id
       where user_groups.user_id in (select value from json_each(?)) order by groups.name`,
  );
  const tokens = db.prepare('select user_id, count(*) as n from tokens where user_id in (select value from json_each(?)) group by user_id');
  for (let after = ''; ; ) {
    const rows = page.all(after) as ExportRow[];
    if (rows.length === 0) return;
    const ids = JSON.stringify(rows.map((r) => r.id));
    const memberships = new Map<number, string[]>();
    for (const g of groups.all(ids) as Array<{ user_id: number; name: string }>) {
      const list = memberships.get(g.user_id);
      if (list) list.push(g.name);
      else memberships.set(g.user_id, [g.name]);
    }
    const counts = new Map((tokens.all(ids) as Array<{ user_id: number; n: number }>).map((t) => [t.user_id, t.n]));
    yield rows
      .map((u) =>
        csvLine([
          u.username,
          u.display_name,
          u.email,
          (memberships.get(u.id) ?? []).join(';'),
          u.status,
          String(counts.get(u.id) ?? 0),
          u.has_password ? 'yes' : 'no',
          new Date(u.created_at).toISOString(),
        ]),
      )
      .join('');
    if (rows.length < EXPORT_PAGE) return;
    after = rows[rows.length - 1]!.username;
  }
}
