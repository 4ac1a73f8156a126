import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { setImmediate as nextTurn } from 'node:timers/promises'
import SqliteDatabase from 'better-sqlite3'
import { afterEach, describe, expect, it } from 'vitest'
import { SqliteCheckpointer } from './sqlite-checkpointer.js'

describe('SqliteCheckpointer', () => {
  const dirs: string[] = []
  afterEach(() => dirs.splice(0).forEach((dir) => fs.rmSync(dir, { recursive: true, force: true })))

  it('starts the log over while the server writes without a pause', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'checkpointer-'))
    dirs.push(dir)
    const file = path.join(dir, 'chat.db')
    const database = new SqliteDatabase(file)
    database.pragma('journal_mode = WAL')
    database.pragma('synchronous = NORMAL')
    database.pragma('wal_autocheckpoint = 0')
    database.exec('create table note (id integer primary key, body text not null)')
    const insert = database.prepare('insert into note (body) values (?)')

    // Writes wait while held, as the store's appends wait for its one connection.
    let held: Promise<void> | undefined
    let holds = 0
    const checkpointer = new SqliteCheckpointer({
      file,
      intervalMs: 20,
      framesBeforeStartingOver: 200,
      holdWrites: async (finish) => {
        held = finish()
        await held
        held = undefined
        holds += 1
      },
      onFailure: () => expect.fail('the checkpoint worker failed'),
    })

    // The log's header counts how many times it started over (its checkpoint sequence number).
    const restarts = () => {
      const header = Buffer.alloc(16)
      const fd = fs.openSync(`${file}-wal`, 'r')
      fs.readSync(fd, header, 0, 16, 0)
      fs.closeSync(fd)
      return header.readUInt32BE(12)
    }
    const body = 'x'.repeat(3_000) // a page of the table per commit
    let written = 0
    const until = Date.now() + 10_000
    // A busy server: a commit in every turn of the event loop, never idle, so no checkpoint that
    // runs beside the writes can copy the whole log.
    while (restarts() < 3 && Date.now() < until) {
      await held
      insert.run(body)
      written += 1
      await nextTurn()
    }
    expect(restarts()).toBeGreaterThanOrEqual(3)
    expect(holds).toBeGreaterThan(0)
    await checkpointer.close()

    expect(database.prepare('select count(*) as n from note').get()).toEqual({ n: written })
    database.close()
  })
})
