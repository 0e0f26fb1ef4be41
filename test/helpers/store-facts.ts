import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { Store, type ChangeHead } from '@otpgate/core';

/** What a node's two database files hold, as far as a crash test cares. */
export interface StoreFacts {
  users: number;
  tokens: number;
  head: ChangeHead;
  /** `PRAGMA integrity_check` of otpgate.db and state.db: ['ok'] each when sound. */
  integrity: { database: string[]; state: string[] };
  /** Log entries whose prev_hash is not the hash of the entry before, and holes in the sequence numbers. */
  chainBreaks: number;
  seqHoles: number;
  /** Users (id, name, fields, how many tokens) in id order: equal on two nodes that hold the same users. */
  digest: string;
}

/**
 * Read a node's store: beside the running node (read-only; SQLite's WAL lets a reader in), or, for a stopped node,
 * opened as the next `otpgate serve` would open it (a crash's WAL is recovered on open).
 */
export async function storeFacts(dataDir: string, options: { running: boolean }): Promise<StoreFacts> {
  const store = options.running ? await Store.openReadOnly(dataDir) : await Store.open(dataDir);
  try {
    const db = store.db;
    const count = (sql: string) => (db.prepare(sql).get() as { n: number }).n;
    const digest = createHash('sha256');
    const rows = db
      .prepare(
        `select u.id, u.username, u.display_name, u.email, u.status, (select count(*) from tokens t where t.user_id = u.id) as tokens
           from users u order by u.id`,
      )
      .raw()
      .iterate() as Iterable<unknown[]>;
    for (const row of rows) digest.update(JSON.stringify(row)).update('\n');
    return {
      users: count('select count(*) as n from users'),
      tokens: count('select count(*) as n from tokens'),
      head: store.head(),
      integrity: {
        database: db.prepare('pragma integrity_check').pluck().all() as string[],
        state: store.state.prepare('pragma integrity_check').pluck().all() as string[],
      },
      chainBreaks: count('select count(*) as n from changes c join changes p on p.seq = c.seq - 1 where c.prev_hash <> p.hash'),
      seqHoles: count('select coalesce(max(seq) - min(seq) + 1 - count(*), 0) as n from changes'),
      digest: digest.digest('hex'),
    };
  } finally {
    store.close();
  }
}

/** How many users and tokens the log says were created or changed after entry `seq`. */
export async function upsertsAfter(dataDir: string, seq: number, options: { running: boolean }): Promise<{ users: number; tokens: number }> {
  const store = options.running ? await Store.openReadOnly(dataDir) : await Store.open(dataDir);
  try {
    const count = (entity: string) =>
      (store.db.prepare(`select count(distinct key) as n from changes where seq > ? and entity = ? and op = 'upsert'`).get(seq, entity) as { n: number }).n;
    return { users: count('user'), tokens: count('token') };
  } finally {
    store.close();
  }
}

/** A node's data folder (TestNode's default). */
export const dataDirOf = (node: { dir: string }) => join(node.dir, 'data');
