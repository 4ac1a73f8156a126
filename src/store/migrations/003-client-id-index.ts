import { sql, type Kysely } from 'kysely'
import { isSqlite } from './dialect.js'

/**
 * The index behind idempotent sends becomes `(client_message_id, chat_session_id, sender_id)`,
 * holding only messages that carry a `client_message_id`. It only ever answers an exact lookup of
 * all three, so their order is free, and it was the index an append wrote most: led by the
 * session, every message landed on a random page of it, and every message without a
 * `client_message_id` (all the guide's clients send) still had an entry. Led by the client's id,
 * ids a client makes in time order (the SDK's) land at one end, pages shared by the messages
 * committed together; messages without one are not in it at all.
 *
 * SQLite cannot drop a table's constraint, so there the table is rebuilt from its own definition
 * less that constraint, in one transaction.
 */
const CONSTRAINT = 'chat_messages_client_id'
const COLUMNS = ['client_message_id', 'chat_session_id', 'sender_id'] as const
const OLD_COLUMNS = ['chat_session_id', 'sender_id', 'client_message_id'] as const
/** The old constraint as SQLite keeps it in the table's definition (written by migration 001). */
const OLD_CONSTRAINT_SQL = `, constraint "${CONSTRAINT}" unique (${OLD_COLUMNS.map((c) => `"${c}"`).join(', ')})`

export async function up(db: Kysely<unknown>): Promise<void> {
  if (isSqlite(db)) {
    await db.transaction().execute(async (trx) => {
      await rebuildMessages(trx, (definition) =>
        definition.includes(OLD_CONSTRAINT_SQL)
          ? definition.replace(OLD_CONSTRAINT_SQL, '')
          : undefined,
      )
      await createClientIdIndex(trx)
    })
    return
  }
  await db.schema.alterTable('chat_messages').dropConstraint(CONSTRAINT).execute()
  await createClientIdIndex(db)
}

export async function down(db: Kysely<unknown>): Promise<void> {
  if (isSqlite(db)) {
    await db.transaction().execute(async (trx) => {
      await trx.schema.dropIndex(CONSTRAINT).execute()
      // The table's definition ends with the parenthesis that closes its columns.
      await rebuildMessages(trx, (definition) => `${definition.slice(0, -1)}${OLD_CONSTRAINT_SQL})`)
    })
    return
  }
  await db.schema.dropIndex(CONSTRAINT).execute()
  await db.schema
    .alterTable('chat_messages')
    .addUniqueConstraint(CONSTRAINT, [...OLD_COLUMNS])
    .execute()
}

function createClientIdIndex(db: Kysely<unknown>): Promise<void> {
  return db.schema
    .createIndex(CONSTRAINT)
    .ifNotExists()
    .on('chat_messages')
    .columns([...COLUMNS])
    .unique()
    .where(sql.ref('client_message_id'), 'is not', null)
    .execute()
}

/**
 * SQLite's way to change a table's constraints: a new table from the changed definition, the rows
 * copied over, the old one dropped and the new one renamed. `change` returns the new definition,
 * or undefined when there is nothing to change (a rebuild that ran before its migration was
 * recorded).
 */
async function rebuildMessages(
  db: Kysely<unknown>,
  change: (definition: string) => string | undefined,
): Promise<void> {
  const { rows } = await sql<{ sql: string }>`
    select sql from sqlite_master where type = 'table' and name = 'chat_messages'`.execute(db)
  const definition = change(rows[0]!.sql)
  if (definition === undefined) return
  const renamed = definition.replace(
    /^CREATE TABLE "chat_messages"/,
    'CREATE TABLE "chat_messages_new"',
  )
  await sql.raw(renamed).execute(db)
  await sql`insert into chat_messages_new select * from chat_messages`.execute(db)
  await sql`drop table chat_messages`.execute(db)
  await sql`alter table chat_messages_new rename to chat_messages`.execute(db)
}
