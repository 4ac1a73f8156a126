import { setTimeout as sleep } from 'node:timers/promises'
import SqliteDatabase from 'better-sqlite3'
import { Kysely, SqliteDialect } from 'kysely'
import { afterEach, describe, expect, it } from 'vitest'
import { newMessage, sessionRow, userRecord } from '../testing/records.js'
import { migrateToLatest } from './migrate.js'
import type { Database } from './schema.js'
import { SqliteMessageAppender } from './sqlite.js'

describe('SqliteMessageAppender', () => {
  let db: Kysely<Database> | undefined
  afterEach(() => db?.destroy())

  async function appenderWithSession() {
    const database = new SqliteDatabase(':memory:')
    db = new Kysely<Database>({ dialect: new SqliteDialect({ database }) })
    await migrateToLatest(db)
    const user = userRecord()
    const session = sessionRow(user.id)
    await db.insertInto('users').values(user).execute()
    await db.insertInto('chat_sessions').values(session).execute()
    const message = (content: string) => newMessage(session.id, user.id, { content })
    // Read on the connection itself: Kysely's waits while writes are held.
    const stored = () =>
      database
        .prepare<[], { seq: number; content: string }>(
          'select seq, content from chat_messages order by seq',
        )
        .all()
        .map((row) => `${row.seq}:${row.content}`)
    return { appender: new SqliteMessageAppender(database, db), message, stored }
  }

  it('holds appends while the checkpoint finishes, then stores them in order', async () => {
    const { appender, message, stored } = await appenderWithSession()
    await appender.append(message('before the hold'))
    let during: Array<Promise<unknown>> = []
    let seenWhileHeld: string[] = []

    await appender.holdWrites(async () => {
      during = ['one', 'two', 'three'].map((content) => appender.append(message(content)))
      await sleep(20)
      seenWhileHeld = stored()
    })
    await Promise.all(during)

    expect(seenWhileHeld).toEqual(['1:before the hold'])
    expect(stored()).toEqual(['1:before the hold', '2:one', '3:two', '4:three'])
  })

  it('stores what waited even when the checkpoint held for fails', async () => {
    const { appender, message, stored } = await appenderWithSession()
    let during: Promise<unknown> | undefined

    const hold = appender.holdWrites(async () => {
      during = appender.append(message('during a failed hold'))
      await sleep(5)
      throw new Error('checkpoint failed')
    })

    await expect(hold).rejects.toThrow('checkpoint failed')
    await during
    expect(stored()).toEqual(['1:during a failed hold'])
  })
})
