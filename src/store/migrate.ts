import { Migrator, type Kysely, type Migration, type MigrationResultSet } from 'kysely'
import * as initial from './migrations/001-initial.js'
import * as lastMessageAt from './migrations/002-last-message-at.js'
import * as clientIdIndex from './migrations/003-client-id-index.js'
import * as sessionFigures from './migrations/004-session-figures-from-messages.js'
import type { Database } from './schema.js'

/** Every migration, in order. Both databases run the same ones. */
const migrations = {
  '001-initial': initial,
  '002-last-message-at': lastMessageAt,
  '003-client-id-index': clientIdIndex,
  '004-session-figures-from-messages': sessionFigures,
} satisfies Record<string, Migration>

/**
 * Brings the schema up to date. Safe to run from several nodes at once (the migrator locks).
 * `schema` names where the migrator keeps its bookkeeping; without it, Kysely would take another
 * schema's `kysely_migration` table for ours.
 */
export async function migrateToLatest(db: Kysely<Database>, schema?: string): Promise<void> {
  await migrate(db, schema, (migrator) => migrator.migrateToLatest())
}

/** Up or down to the named migration (tests check each migration on a schema left before it). */
export async function migrateTo(
  db: Kysely<Database>,
  name: keyof typeof migrations,
  schema?: string,
): Promise<void> {
  await migrate(db, schema, (migrator) => migrator.migrateTo(name))
}

async function migrate(
  db: Kysely<Database>,
  schema: string | undefined,
  run: (migrator: Migrator) => Promise<MigrationResultSet>,
): Promise<void> {
  const migrator = new Migrator({
    db,
    provider: { getMigrations: () => Promise.resolve(migrations) },
    ...(schema !== undefined && { migrationTableSchema: schema }),
  })
  const { error, results } = await run(migrator)
  if (error !== undefined) {
    const failed = results?.find((result) => result.status === 'Error')?.migrationName
    throw new Error(`database migration ${failed ?? ''} failed`.replace('  ', ' '), {
      cause: error,
    })
  }
}
