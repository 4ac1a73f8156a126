import { sql, type Kysely } from 'kysely'

/**
 * The newest message's time gets a column of its own, written with every message. Until now
 * `last_activity_at` carried it, and that column is indexed for the lists' order: moving its index
 * entry on every message cost SQLite two more pages per commit and kept PostgreSQL from updating
 * the row in place. The lists' order is now written behind the hot path (`SqlStore`'s activity marks).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('chat_sessions').addColumn('last_message_at', 'bigint').execute()
  const backfill = sql`update chat_sessions set last_message_at = last_activity_at where last_seq > 0`
  await backfill.execute(db)
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('chat_sessions').dropColumn('last_message_at').execute()
}
