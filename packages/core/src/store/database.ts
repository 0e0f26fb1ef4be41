import BetterSqlite3 from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect, type Compilable, type InferResult } from 'kysely';
import { OtpgateError } from '@otpgate/shared';
import type { DB } from './schema.js';
import { migrationProvider } from './migrations.js';

export class StoreError extends OtpgateError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('store', message, options);
  }
}

type Row<Q extends Compilable> = InferResult<Q> extends Array<infer R> ? R : never;

/**
 * The node's SQLite database. Queries are built with kysely (typed against schema.ts) and run synchronously on the
 * one better-sqlite3 connection, so a transaction is a plain function call: nothing else can interleave with it, and
 * the RADIUS hot path and an admin write never share a half-open transaction.
 */
export class Database {
  readonly sqlite: BetterSqlite3.Database;
  /** The query builder. Build with it; run with all/first/run below. */
  readonly q: Kysely<DB>;
  private readonly statements = new Map<string, BetterSqlite3.Statement>();

  private constructor(sqlite: BetterSqlite3.Database) {
    this.sqlite = sqlite;
    this.q = new Kysely<DB>({ dialect: new SqliteDialect({ database: sqlite }) });
  }

  /** Open (creating if needed) and bring the schema up to date. */
  static async open(path: string, options: { readonly?: boolean } = {}): Promise<Database> {
    let sqlite: BetterSqlite3.Database;
    try {
      sqlite = new BetterSqlite3(path, { readonly: options.readonly ?? false, fileMustExist: options.readonly ?? false });
    } catch (err) {
      throw new StoreError(`cannot open database ${path}: ${(err as Error).message}`, { cause: err });
    }
    sqlite.pragma('busy_timeout = 5000');
    if (!options.readonly) {
      sqlite.pragma('journal_mode = WAL');
      // WAL + NORMAL: a commit survives a process crash; a power cut may lose the last moments, never corrupt
      sqlite.pragma('synchronous = NORMAL');
    }
    sqlite.pragma('foreign_keys = ON');
    const db = new Database(sqlite);
    if (!options.readonly) await db.migrate();
    return db;
  }

  private async migrate(): Promise<void> {
    const { error, results } = await new Migrator({ db: this.q, provider: migrationProvider }).migrateToLatest();
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

  /** Run `fn` in one write transaction (BEGIN IMMEDIATE, so another process cannot sneak a write in between). */
  transaction<T>(fn: () => T): T {
    return this.sqlite.transaction(fn).immediate();
  }

  close(): void {
    this.sqlite.close();
  }
}
