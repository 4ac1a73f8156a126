import { sql, type Kysely } from 'kysely'
import { isSqlite } from './dialect.js'

/**
 * A session's `started_at` and `last_message_at` are read from its messages (the first's and the
 * newest's time, by the `(chat_session_id, seq)` index), as its newest `seq` is, so no append
 * writes them into the session's row any more. On SQLite that row was the only page of
 * `chat_sessions` an append wrote, one more page of the log per message in five; SQLite, with one
 * writer, numbers a message from the newest `seq` stored and drops its `last_seq` counter too.
 * PostgreSQL keeps `last_seq`: appends from every node lock the session's row to take their numbers.
 */
const DERIVED = ['started_at', 'last_message_at'] as const

export async function up(db: Kysely<unknown>): Promise<void> {
  for (const column of DERIVED) {
    await db.schema.alterTable('chat_sessions').dropColumn(column).execute()
  }
  if (isSqlite(db)) await db.schema.alterTable('chat_sessions').dropColumn('last_seq').execute()
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const column of DERIVED) {
    await db.schema.alterTable('chat_sessions').addColumn(column, 'bigint').execute()
  }
  if (isSqlite(db)) {
    await db.schema
      .alterTable('chat_sessions')
      .addColumn('last_seq', 'bigint', (col) => col.notNull().defaultTo(0))
      .execute()
  }
  const backfill = sql`
    update chat_sessions
       set last_seq = coalesce((select max(m.seq) from chat_messages m
                                 where m.chat_session_id = chat_sessions.id), 0),
           started_at = (select m.created_at from chat_messages m
                          where m.chat_session_id = chat_sessions.id and m.seq = 1),
           last_message_at = (select m.created_at from chat_messages m
                               where m.chat_session_id = chat_sessions.id
                               order by m.seq desc limit 1)`
  await backfill.execute(db)
}
