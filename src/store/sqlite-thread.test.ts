import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { SqliteThread } from './sqlite-thread.js'
import { isStoreUnavailable, isUniqueViolation } from './store-errors.js'

describe('SqliteThread', () => {
  const threads: SqliteThread[] = []
  afterEach(async () => {
    for (const thread of threads.splice(0)) await thread.close()
  })

  async function open(file = ':memory:'): Promise<SqliteThread> {
    const thread = await SqliteThread.open({ file, synchronous: 'NORMAL' })
    threads.push(thread)
    return thread
  }

  it('runs statements in the order they are posted, with their rows and changes', async () => {
    const thread = await open()
    await thread.run('create table note (id integer primary key, body text not null unique)')
    const [first, second, rows] = await Promise.all([
      thread.run('insert into note (body) values (?)', ['one']),
      thread.run('insert into note (body) values (?), (?)', ['two', 'three']),
      thread.run('select id, body from note order by id'),
    ])

    expect(first).toMatchObject({ changes: 1, lastInsertRowid: 1 })
    expect(second).toMatchObject({ changes: 2, lastInsertRowid: 3 })
    expect(rows.rows).toEqual([
      { id: 1, body: 'one' },
      { id: 2, body: 'two' },
      { id: 3, body: 'three' },
    ])
  })

  it('hands back SQLite’s errors with their codes, and goes on', async () => {
    const thread = await open()
    await thread.run('create table note (body text unique)')
    await thread.run('insert into note values (?)', ['same'])

    const error = await thread.run('insert into note values (?)', ['same']).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(Error)
    expect(isUniqueViolation(error)).toBe(true)
    expect((error as Error).message).toMatch(/UNIQUE constraint failed/)
    await expect(thread.run('select count(*) as n from note')).resolves.toEqual({
      rows: [{ n: 1 }],
    })
  })

  it('keeps the event loop turning while a statement runs', async () => {
    const thread = await open()
    let turns = 0
    const ticking = setInterval(() => (turns += 1), 1)
    // A statement that keeps SQLite busy for a good while: it would freeze the loop if run on it.
    const counted = await thread.run(
      `with recursive n(i) as (select 1 union all select i + 1 from n where i < 3000000)
       select count(*) as n from n`,
    )
    clearInterval(ticking)

    expect(counted.rows).toEqual([{ n: 3_000_000 }])
    expect(turns).toBeGreaterThan(5)
  })

  it('fails to open what is not a database file, with an error the edges answer 503 to', async () => {
    const error = await SqliteThread.open({ file: os.tmpdir(), synchronous: 'NORMAL' }).catch(
      (e: unknown) => e,
    )

    expect((error as Error).message).toMatch(/unable to open/)
    expect(isStoreUnavailable(error)).toBe(true)
  })

  it('refuses statements once closed, with an error the edges answer 503 to', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sqlite-thread-'))
    const thread = await SqliteThread.open({
      file: path.join(dir, 'chat.db'),
      synchronous: 'NORMAL',
    })
    await thread.close()

    const error = await thread.run('select 1').catch((e: unknown) => e)
    expect(isStoreUnavailable(error)).toBe(true)
    fs.rmSync(dir, { recursive: true, force: true })
  })
})
