import type { Param } from './queryable.js'

/** A column's SQL type, as PostgreSQL names it (its batched inserts cast arrays to it). */
export type ColumnType = 'text' | 'integer' | 'bigint' | 'boolean'

/**
 * A table as a record is written to it: its columns in order, with the record's values in that
 * order. One description serves the single-row insert, the batched insert and the snapshot copy.
 */
export interface Table<R> {
  name: string
  /** The primary key: a snapshot reads rows in its order. */
  key: string
  columns: readonly (readonly [name: string, type: ColumnType])[]
  values(record: R): Param[]
}

/** `INSERT INTO table (columns…) VALUES (?, …)`, `rows` rows of values at once. */
export function insertSql(table: Table<never>, rows = 1): string {
  const row = `(${table.columns.map(() => '?').join(', ')})`
  return `INSERT INTO ${table.name} (${table.columns.map(([name]) => name).join(', ')}) VALUES ${Array.from({ length: rows }, () => row).join(', ')}`
}
