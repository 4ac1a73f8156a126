import { randomBytes } from 'node:crypto'
import { Kysely, PostgresDialect, sql, SqliteDialect } from 'kysely'
import pg from 'pg'
import { afterEach, describe, expect, it } from 'vitest'
import { newMessage, sessionRow, userRecord } from '../testing/records.js'
import { testDatabase } from '../testing/test-app.js'
import { migrateTo } from './migrate.js'
import type { Database } from './schema.js'
import { openSqliteDatabase } from './sqlite.js'

/** An empty database of the kind under test, and how to read it raw. */
async function emptyDatabase(): Promise<{
  db: Kysely<Database>
  schema: string | undefined
  drop: () => Promise<void>
}> {
  if (testDatabase === 'sqlite') {
    // Set up as the store runs it, foreign keys on: the rebuild drops and renames a child table.
    const database = openSqliteDatabase({ file: ':memory:', synchronous: 'NORMAL' })
    const db = new Kysely<Database>({ dialect: new SqliteDialect({ database }) })
    return { db, schema: undefined, drop: () => db.destroy() }
  }
  const schema = `migrate_${randomBytes(6).toString('hex')}`
  const url = process.env.DATABASE_URL!
  const admin = new pg.Client({ connectionString: url })
  await admin.connect()
  await admin.query(`create schema ${schema}`)
  const db = new Kysely<Database>({
    dialect: new PostgresDialect({
      pool: new pg.Pool({ connectionString: url, options: `-c search_path=${schema}` }),
    }),
  })
  return {
    db,
    schema,
    drop: async () => {
      await db.destroy()
      await admin.query(`drop schema ${schema} cascade`)
      await admin.end()
    },
  }
}

describe(`migration 003 (client id index) on ${testDatabase}`, () => {
  let drop: (() => Promise<void>) | undefined
  afterEach(() => drop?.())

  it('keeps every message, lets repeats of one client id fail and messages without one pass, both ways', async () => {
    const { db, schema, drop: dropDatabase } = await emptyDatabase()
    drop = dropDatabase
    await migrateTo(db, '002-last-message-at', schema)
    const user = userRecord()
    const session = sessionRow(user.id)
    await db.insertInto('users').values(user).execute()
    await db.insertInto('chat_sessions').values(session).execute()
    let seq = 0
    const insert = (clientMessageId: string | null) =>
      db
        .insertInto('chat_messages')
        .values({
          ...newMessage(session.id, user.id, { client_message_id: clientMessageId }),
          seq: ++seq,
          mentions: null,
        })
        .execute()
    await insert('first')
    await insert(null)
    await insert(null)

    await migrateTo(db, '003-client-id-index', schema)
    // PostgreSQL's driver hands a BIGINT back as a string without the store's parser.
    const stored = async () =>
      (
        await db
          .selectFrom('chat_messages')
          .select(['seq', 'client_message_id'])
          .orderBy('seq')
          .execute()
      ).map((row) => ({ seq: Number(row.seq), client_message_id: row.client_message_id }))
    expect(await stored()).toEqual([
      { seq: 1, client_message_id: 'first' },
      { seq: 2, client_message_id: null },
      { seq: 3, client_message_id: null },
    ])
    await expect(insert('first')).rejects.toThrow(/unique/i)
    seq -= 1
    await insert(null)
    await insert('second')
    expect(await indexOnClientIds(db)).toMatch(/client_message_id.*is not null/i)

    await migrateTo(db, '002-last-message-at', schema)
    expect(await stored()).toHaveLength(5)
    await expect(insert('second')).rejects.toThrow(/unique/i)
    seq -= 1

    await migrateTo(db, '003-client-id-index', schema)
    expect(await stored()).toHaveLength(5)
    await expect(insert('first')).rejects.toThrow(/unique/i)
  })
})

/** The definition of the index behind idempotent sends, as the database keeps it. */
async function indexOnClientIds(db: Kysely<Database>): Promise<string> {
  const { rows } =
    testDatabase === 'sqlite'
      ? await sql<{ definition: string }>`
          select sql as definition from sqlite_master where name = 'chat_messages_client_id'`.execute(
          db,
        )
      : await sql<{ definition: string }>`
          select indexdef as definition from pg_indexes
           where indexname = 'chat_messages_client_id' and schemaname = current_schema()`.execute(
          db,
        )
  return rows[0]?.definition ?? ''
}

describe(`migration 004 (session figures from messages) on ${testDatabase}`, () => {
  let drop: (() => Promise<void>) | undefined
  afterEach(() => drop?.())

  it('stops keeping the figures in the session row, and writes them back from the messages going down', async () => {
    const { db, schema, drop: dropDatabase } = await emptyDatabase()
    drop = dropDatabase
    await migrateTo(db, '003-client-id-index', schema)
    const user = userRecord()
    const session = sessionRow(user.id)
    await db.insertInto('users').values(user).execute()
    await db.insertInto('chat_sessions').values(session).execute()
    const times = [1_000, 2_000, 3_000]
    for (const [i, createdAt] of times.entries()) {
      await db
        .insertInto('chat_messages')
        .values({
          ...newMessage(session.id, user.id, { created_at: createdAt }),
          seq: i + 1,
          mentions: null,
        })
        .execute()
    }
    const sessionColumns = async () =>
      testDatabase === 'sqlite'
        ? (
            await sql<{
              name: string
            }>`select name from pragma_table_info('chat_sessions')`.execute(db)
          ).rows.map((row) => row.name)
        : (
            await sql<{ name: string }>`
              select column_name as name from information_schema.columns
               where table_name = 'chat_sessions' and table_schema = current_schema()`.execute(db)
          ).rows.map((row) => row.name)

    await migrateTo(db, '004-session-figures-from-messages', schema)
    const kept = await sessionColumns()
    expect(kept).not.toContain('started_at')
    expect(kept).not.toContain('last_message_at')
    // PostgreSQL's appends number messages from the row's counter; SQLite's from the messages.
    expect(kept.includes('last_seq')).toBe(testDatabase === 'postgres')

    await migrateTo(db, '003-client-id-index', schema)
    const { rows } = await sql<{
      last_seq: number | string
      started_at: number | string
      last_message_at: number | string
    }>`select last_seq, started_at, last_message_at from chat_sessions`.execute(db)
    // PostgreSQL's driver hands a BIGINT back as a string without the store's parser.
    expect(rows.map((row) => Object.values(row).map(Number))).toEqual([[3, 1_000, 3_000]])
  })
})
