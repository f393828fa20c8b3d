import type Database from 'better-sqlite3'
import type { TransactionRunner } from '../batching/transaction-batcher.js'
import type { Param, Queryable } from '../sql/queryable.js'

/** How the SQLite store reaches its database: statements, and the state its group commit checks. */
export interface SqliteConnection extends Queryable, TransactionRunner {}

/**
 * Statements over one better-sqlite3 connection, each prepared once and kept by its SQL text (the
 * store's statements are a fixed set; preparing costs more than most of them take to run).
 * Booleans are bound as 0/1.
 */
export class PreparedStatements implements SqliteConnection {
  readonly #statements = new Map<string, Database.Statement>()

  constructor(private readonly db: Database.Database) {}

  get inTransaction(): boolean {
    return this.db.inTransaction
  }

  get open(): boolean {
    return this.db.open
  }

  run(sql: string, params: Param[]): number {
    return this.#statement(sql).run(...bindable(params)).changes
  }

  get(sql: string, params: Param[]): unknown {
    return this.#statement(sql).get(...bindable(params))
  }

  all(sql: string, params: Param[]): unknown[] {
    return this.#statement(sql).all(...bindable(params))
  }

  #statement(sql: string): Database.Statement {
    let statement = this.#statements.get(sql)
    if (!statement) {
      statement = this.db.prepare(sql)
      this.#statements.set(sql, statement)
    }
    return statement
  }
}

// Most statements bind no flag: they keep their parameters as they are, without a copy.
function bindable(params: Param[]): Param[] {
  return params.some((param) => typeof param === 'boolean') ? params.map((param) => (typeof param === 'boolean' ? Number(param) : param)) : params
}
