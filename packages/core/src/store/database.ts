import BetterSqlite3 from 'better-sqlite3';
import { Kysely, SqliteDialect, type Compilable, type InferResult } from 'kysely';
import { Migrator, type MigrationProvider } from 'kysely/migration';
import { OtpgateError, errorMessage } from '@otpgate/shared';
import type { DB } from './schema.js';
import { migrationProvider } from './migrations.js';
import { describeWriteError } from './store-health.js';

export class StoreError extends OtpgateError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('store', message, options);
  }
}

/** "name" as an SQL identifier (names come from the code and the record schemas, never from input; quoted anyway). */
const quoteIdentifier = (name: string) => `"${name.replaceAll('"', '""')}"`;

function sameStrings(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

type Row<Q extends Compilable> = InferResult<Q> extends Array<infer R> ? R : never;

export interface OpenOptions {
  readonly?: boolean;
  /** The migrations that bring this file's schema up to date (not run when read-only). */
  migrations?: MigrationProvider;
  /** How long a statement waits for another connection's write lock before SQLITE_BUSY (default 5 s). */
  busyTimeoutMs?: number;
  /** false: this connection's commits never checkpoint the WAL (another connection does; state-checkpoints.ts). */
  autoCheckpoint?: boolean;
}

/**
 * One SQLite file of the node (the configuration database, schema.ts, or the state database, state-schema.ts).
 * Queries are built with kysely (typed against the file's schema) and run synchronously on the one better-sqlite3
 * connection, so a transaction is a plain function call: nothing else in this thread can interleave with it, and the
 * RADIUS hot path and an admin write never share a half-open transaction.
 */
export class Database<S = DB> {
  readonly sqlite: BetterSqlite3.Database;
  /** The query builder. Build with it; run with all/first/run below. */
  readonly q: Kysely<S>;
  private readonly statements = new Map<string, BetterSqlite3.Statement>();
  private readonly upserts = new Map<string, Array<{ conflict: string; columns: string[]; statement: BetterSqlite3.Statement }>>();

  private constructor(sqlite: BetterSqlite3.Database) {
    this.sqlite = sqlite;
    this.q = new Kysely<S>({ dialect: new SqliteDialect({ database: sqlite }) });
  }

  /** Open (creating if needed) and bring the schema up to date (the configuration database's unless told otherwise). */
  static async open<S = DB>(path: string, options: OpenOptions = {}): Promise<Database<S>> {
    let sqlite: BetterSqlite3.Database;
    try {
      sqlite = new BetterSqlite3(path, { readonly: options.readonly ?? false, fileMustExist: options.readonly ?? false });
    } catch (err) {
      throw new StoreError(`cannot open database ${path}: ${errorMessage(err)}`, { cause: err });
    }
    try {
      sqlite.pragma(`busy_timeout = ${Math.max(0, Math.trunc(options.busyTimeoutMs ?? 5000))}`);
      if (!options.readonly) {
        sqlite.pragma('journal_mode = WAL');
        // WAL + NORMAL: a commit survives a process crash; a power cut may lose the last moments, never corrupt
        sqlite.pragma('synchronous = NORMAL');
        if (options.autoCheckpoint === false) sqlite.pragma('wal_autocheckpoint = 0');
      }
      sqlite.pragma('foreign_keys = ON');
    } catch (err) {
      // the first statement reads the file and makes the WAL's files: a full disk stops a start here
      sqlite.close();
      throw new StoreError(`cannot open database ${path}: ${describeWriteError(err)}`, { cause: err });
    }
    const db = new Database<S>(sqlite);
    if (!options.readonly) await db.migrate(options.migrations ?? migrationProvider);
    return db;
  }

  /**
   * A second, read-only connection to a file another connection keeps up to date (no migrations): for reads that
   * must not wait for or share the writer's transactions.
   */
  static openReader<S>(path: string): Database<S> {
    let sqlite: BetterSqlite3.Database;
    try {
      sqlite = new BetterSqlite3(path, { readonly: true, fileMustExist: true });
    } catch (err) {
      throw new StoreError(`cannot open database ${path}: ${errorMessage(err)}`, { cause: err });
    }
    sqlite.pragma('busy_timeout = 5000');
    return new Database<S>(sqlite);
  }

  private async migrate(provider: MigrationProvider): Promise<void> {
    const { error, results } = await new Migrator({ db: this.q, provider }).migrateToLatest();
    const failed = results?.find((r) => r.status === 'Error');
    if (error || failed) {
      throw new StoreError(
        `database migration ${failed?.migrationName ?? ''} failed: ${(error as Error | undefined)?.message ?? 'unknown error'}`,
        { cause: error },
      );
    }
  }

  private statement(sql: string): BetterSqlite3.Statement {
    let s = this.statements.get(sql);
    if (!s) {
      s = this.sqlite.prepare(sql);
      this.statements.set(sql, s);
    }
    return s;
  }

  all<Q extends Compilable>(query: Q): Row<Q>[] {
    const c = query.compile();
    return this.statement(c.sql).all(...(c.parameters as unknown[])) as Row<Q>[];
  }

  first<Q extends Compilable>(query: Q): Row<Q> | undefined {
    const c = query.compile();
    return this.statement(c.sql).get(...(c.parameters as unknown[])) as Row<Q> | undefined;
  }

  run(query: Compilable): BetterSqlite3.RunResult {
    const c = query.compile();
    return this.statement(c.sql).run(...(c.parameters as unknown[]));
  }

  /** A prepared statement for hand-written SQL on the hot path (kysely's compile costs more than the query). */
  prepare(sql: string): BetterSqlite3.Statement {
    return this.statement(sql);
  }

  /**
   * Insert `row` into `table`, or update every given column of the row with the same `conflict` column: what
   * `q.insertInto(table).values(row).onConflict((oc) => oc.column(conflict).doUpdateSet(row))` does (columns whose
   * value is undefined are left out, as kysely leaves them out), without building and compiling a kysely query for
   * every row. The SQL is made once per table and column list and its statement kept: a snapshot writes 100,000s
   * of rows, and compiling each one cost more than SQLite's work.
   */
  upsert<T extends keyof S & string>(table: T, row: Partial<Record<keyof S[T] & string, unknown>>, conflict: keyof S[T] & string): BetterSqlite3.RunResult {
    const columns = Object.keys(row);
    const values: unknown[] = [];
    let skipped = false;
    for (const column of columns) {
      const value = (row as Record<string, unknown>)[column];
      if (value === undefined) skipped = true;
      else values.push(value);
    }
    const named = skipped ? columns.filter((c) => (row as Record<string, unknown>)[c] !== undefined) : columns;
    let shapes = this.upserts.get(table);
    if (!shapes) this.upserts.set(table, (shapes = []));
    // a table has a shape or two (the same record type's keys, in the same order): compare, do not build a key
    let shape = shapes.find((s) => s.conflict === conflict && sameStrings(s.columns, named));
    if (!shape) {
      const names = named.map(quoteIdentifier);
      const statement = this.sqlite.prepare(
        `insert into ${quoteIdentifier(table)} (${names.join(', ')}) values (${names.map(() => '?').join(', ')}) ` +
          `on conflict (${quoteIdentifier(conflict)}) do update set ${names.map((n) => `${n} = excluded.${n}`).join(', ')}`,
      );
      shape = { conflict, columns: named, statement };
      shapes.push(shape);
    }
    return shape.statement.run(...values);
  }

  /**
   * Run a write that may be skipped: without waiting for another connection's lock (an import holding it for
   * seconds), so a background job of the main thread never stalls it. Returns undefined when the lock was taken.
   */
  tryWrite<T>(fn: () => T): T | undefined {
    const waited = this.sqlite.pragma('busy_timeout', { simple: true }) as number;
    this.sqlite.pragma('busy_timeout = 0');
    try {
      return fn();
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === 'SQLITE_BUSY' || code === 'SQLITE_BUSY_SNAPSHOT' || code === 'SQLITE_LOCKED') return undefined;
      throw err;
    } finally {
      this.sqlite.pragma(`busy_timeout = ${waited}`);
    }
  }

  /** Run `fn` in one write transaction (BEGIN IMMEDIATE, so another process cannot sneak a write in between). */
  transaction<T>(fn: () => T): T {
    return this.sqlite.transaction(fn).immediate();
  }

  close(): void {
    this.sqlite.close();
  }
}
