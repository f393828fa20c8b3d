/**
 * The seam between the SQL of the aggregates (written once, in `store/sql/`) and a backend.
 *
 * An aggregate's operation is a `Work<T>`: a generator that yields the statements it needs (`run`,
 * `get`, `all` below) and returns its result. A backend drives it over its `Queryable`: SQLite
 * synchronously (`perform`), so a write stays inside one synchronous group-commit transaction;
 * PostgreSQL asynchronously (`performAsync`), on the pool or on one transaction's connection. The
 * operation decides what to run; the backend decides where and in which transaction.
 *
 * SQL is written with `?` placeholders, one per parameter in order (a value used twice is passed
 * twice); PostgreSQL numbers them (`numbered`). Parameters are strings, numbers, booleans or null; a
 * backend binds booleans as its driver needs (SQLite: 0/1).
 */
export type Param = string | number | boolean | null

export type Query = { kind: 'run' | 'get' | 'all'; sql: string; params: Param[] }

/** An operation of an aggregate: yields its statements, returns its result. */
export type Work<T> = Generator<Query, T, unknown>

/** How statements reach one database connection, synchronously (SQLite). */
export interface Queryable {
  /** Runs a statement; returns how many rows it changed. */
  run(sql: string, params: Param[]): number
  /** The first row the statement returns, or undefined. */
  get(sql: string, params: Param[]): unknown
  /** Every row the statement returns. */
  all(sql: string, params: Param[]): unknown[]
}

/** As `Queryable`, for a driver that answers asynchronously (PostgreSQL). */
export interface AsyncQueryable {
  run(sql: string, params: Param[]): Promise<number>
  get(sql: string, params: Param[]): Promise<unknown>
  all(sql: string, params: Param[]): Promise<unknown[]>
}

// The row types are the SQL's own promise (rows.ts declares what each statement's columns are): the
// driver hands back untyped rows, and this is the one place that says so.

/** A statement's changed-row count. */
export function* run(sql: string, ...params: Param[]): Generator<Query, number, unknown> {
  return (yield { kind: 'run', sql, params }) as number
}

/** A statement's first row (typed as the caller's SQL selects it), or undefined. */
export function* get<R>(sql: string, ...params: Param[]): Generator<Query, R | undefined, unknown> {
  return (yield { kind: 'get', sql, params }) as R | undefined
}

/** Every row of a statement (typed as the caller's SQL selects them). */
export function* all<R>(sql: string, ...params: Param[]): Generator<Query, R[], unknown> {
  return (yield { kind: 'all', sql, params }) as R[]
}

/** Drives `work` to its result over a synchronous connection. */
export function perform<T>(work: Work<T>, on: Queryable): T {
  let step = work.next()
  while (!step.done) {
    const { kind, sql, params } = step.value
    step = work.next(on[kind](sql, params))
  }
  return step.value
}

/** Drives `work` to its result over an asynchronous connection. */
export async function performAsync<T>(work: Work<T>, on: AsyncQueryable): Promise<T> {
  let step = work.next()
  while (!step.done) {
    const { kind, sql, params } = step.value
    step = work.next(await on[kind](sql, params))
  }
  return step.value
}

const numberedCache = new Map<string, string>()

/**
 * `sql` with its `?` placeholders numbered `$1, $2, …` (PostgreSQL's style), outside quoted strings
 * and identifiers. Remembered per SQL text: the statements are a fixed set, so the hot paths pay a
 * map lookup, not a scan.
 */
export function numbered(sql: string): string {
  let result = numberedCache.get(sql)
  if (result === undefined) {
    let n = 0
    let quote: string | undefined
    result = ''
    for (const char of sql) {
      if (quote) {
        if (char === quote) quote = undefined
      } else if (char === "'" || char === '"') quote = char
      else if (char === '?') {
        result += `$${++n}`
        continue
      }
      result += char
    }
    // Statements built per call (a snapshot's multi-row inserts) would grow the map without bound.
    if (numberedCache.size < 1000) numberedCache.set(sql, result)
  }
  return result
}
