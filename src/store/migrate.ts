import { Migrator, type Kysely, type Migration } from 'kysely'
import * as initial from './migrations/001-initial.js'
import * as lastMessageAt from './migrations/002-last-message-at.js'
import type { Database } from './schema.js'

/** Every migration, in order. Both databases run the same ones. */
const migrations: Record<string, Migration> = {
  '001-initial': initial,
  '002-last-message-at': lastMessageAt,
}

/**
 * Brings the schema up to date. Safe to run from several nodes at once (the migrator locks).
 * `schema` names where the migrator keeps its bookkeeping; without it, Kysely would take another
 * schema's `kysely_migration` table for ours.
 */
export async function migrateToLatest(db: Kysely<Database>, schema?: string): Promise<void> {
  const migrator = new Migrator({
    db,
    provider: { getMigrations: () => Promise.resolve(migrations) },
    ...(schema !== undefined && { migrationTableSchema: schema }),
  })
  const { error, results } = await migrator.migrateToLatest()
  if (error !== undefined) {
    const failed = results?.find((result) => result.status === 'Error')?.migrationName
    throw new Error(`database migration ${failed ?? ''} failed`.replace('  ', ' '), {
      cause: error,
    })
  }
}
