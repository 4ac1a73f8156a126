import { SqliteAdapter, type Kysely } from 'kysely'

/** Where a migration must differ by database (SQLite cannot drop a constraint, for one). */
export function isSqlite(db: Kysely<unknown>): boolean {
  return db.getExecutor().adapter instanceof SqliteAdapter
}
