/**
 * Reads of the state database that share one read transaction per turn of the event loop. In WAL mode every
 * statement outside a transaction starts and ends a read transaction of its own, which takes the WAL index's read
 * lock (a system call each way): per request that cost more than the reads. Here the first read of a turn begins a
 * transaction on a connection of its own, later reads of the same turn share it, and it ends when the turn ends.
 *
 * A turn's reads see the database as it was at the turn's first read: a write this thread commits meanwhile must call
 * `refresh()` for the next read to see it (a failure counted now must lock the next request of the same burst), and
 * what other threads commit is seen from the next turn on. Nothing is decided on these reads alone: every write that
 * matters checks again inside its own transaction.
 */
import type BetterSqlite3 from 'better-sqlite3';
import type { Database } from './database.js';

export class TurnReader {
  private open = false;
  private readonly begin: BetterSqlite3.Statement;
  private readonly end: BetterSqlite3.Statement;

  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- reads statements of any schema
  constructor(private readonly db: Database<any>) {
    this.begin = db.sqlite.prepare('begin');
    this.end = db.sqlite.prepare('commit');
  }

  /** A statement of this connection, to run through `get`. */
  prepare(sql: string): BetterSqlite3.Statement {
    return this.db.prepare(sql);
  }

  get<T>(statement: BetterSqlite3.Statement, ...params: unknown[]): T | undefined {
    if (!this.open) {
      this.begin.run();
      this.open = true;
      setImmediate(() => this.refresh());
    }
    return statement.get(...params) as T | undefined;
  }

  /** End the turn's transaction now: the next read sees what was committed up to then. */
  refresh(): void {
    if (!this.open) return;
    this.open = false;
    this.end.run();
  }

  close(): void {
    this.refresh();
    this.db.close();
  }
}
