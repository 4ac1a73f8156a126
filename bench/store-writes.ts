/**
 * What one append writes on SQLite: pages into the write-ahead log per message, and CPU per
 * message, for our store's appender beside the floor's message-sized row, at a few batch sizes.
 * Each page the log takes is written by the committing thread (the event loop), so pages per
 * message are much of what storing costs the server beyond the floor.
 *
 * Our appender runs on its own connection with no checkpoint during the run (as the floor), so the
 * log only grows and holds every page written: each frame names its page, and SQLite's `dbstat`
 * names the table or index the page belongs to, so the pages are also counted by B-tree.
 *
 *   npm run build && node dist/bench/store-writes.js [messages per batch size, default 20000]
 */
import { randomUUID } from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import SqliteDatabase from 'better-sqlite3'
import { Kysely, SqliteDialect } from 'kysely'
import { newId } from '../src/ids.js'
import type { Database } from '../src/store/schema.js'
import { openSqliteDatabase, openSqliteStore, SqliteMessageAppender } from '../src/store/sqlite.js'
import { clientMessageId, MESSAGE_TEXT, textMessage } from './message.js'
import { openMessageRowFile, type MessageRow } from './message-row.js'
import { seedSessionsOfTwo } from './seed-sessions.js'

const MESSAGES = Number(process.argv[2] ?? 20_000)
const BATCHES = [1, 4, 16]
/** As the fan-out and saturation workloads: 500 sessions of two, each client in turn. */
const SESSIONS = 500
const WAL_HEADER_BYTES = 32
const FRAME_HEADER_BYTES = 24

interface Writer {
  name: string
  file: string
  database: SqliteDatabase.Database
  /** Stores `count` messages in one commit. */
  storeGroup(count: number): Promise<void>
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'store-writes-'))
try {
  const writers = [
    await ourAppender(path.join(dir, 'chat.db'), true),
    await ourAppender(path.join(dir, 'plain.db'), false),
    floor(path.join(dir, 'floor.db')),
  ]
  console.log(`${MESSAGES.toLocaleString('en')} messages per row, ${SESSIONS} sessions of two\n`)
  console.log(
    '| batch | store | pages per commit | pages per message | CPU µs per message (kernel) |',
  )
  console.log(
    '| ----: | ----- | ---------------: | ----------------: | --------------------------: |',
  )
  const byTree: string[] = []
  for (const batch of BATCHES) {
    for (const writer of writers) {
      await storeMessages(writer, Math.min(MESSAGES, 2_000), batch) // warm-up: pages cached
      writer.database.pragma('wal_checkpoint(TRUNCATE)')
      const cpuBefore = process.cpuUsage()
      await storeMessages(writer, MESSAGES, batch)
      const cpu = process.cpuUsage(cpuBefore)
      const pagesOf = logPagesByTree(writer)
      const pages = [...pagesOf.values()].reduce((sum, n) => sum + n, 0)
      const commits = Math.ceil(MESSAGES / batch)
      const shares = [...pagesOf].sort(([, a], [, b]) => b - a)
      byTree.push(
        `| ${batch} | ${writer.name} | ${shares.map(([tree, n]) => `${tree} ${(n / MESSAGES).toFixed(2)}`).join(', ')} |`,
      )
      const micros = (cpu.user + cpu.system) / MESSAGES
      console.log(
        `| ${batch} | ${writer.name} | ${(pages / commits).toFixed(2)} | ${(pages / MESSAGES).toFixed(2)} | ` +
          `${micros.toFixed(1)} (${(cpu.system / MESSAGES).toFixed(1)}) |`,
      )
    }
  }
  console.log('\nPages per message, by the table or index they belong to:\n')
  console.log('| batch | store | pages per message |\n| ----: | ----- | ----------------- |')
  for (const line of byTree) console.log(line)
  for (const writer of writers) writer.database.close()
} finally {
  fs.rmSync(dir, { recursive: true, force: true })
}

async function storeMessages(writer: Writer, count: number, batch: number): Promise<void> {
  for (let done = 0; done < count; done += batch) {
    await writer.storeGroup(Math.min(batch, count - done))
  }
}

/** The pages in the log, counted by the B-tree (table or index) each belongs to. */
function logPagesByTree(writer: Writer): Map<string, number> {
  const log = fs.readFileSync(`${writer.file}-wal`)
  const pageSize = writer.database.pragma('page_size', { simple: true }) as number
  const treeOf = new Map(
    writer.database
      .prepare<[], { name: string; pageno: number }>('select name, pageno from dbstat')
      .all()
      .map(({ name, pageno }) => [pageno, name]),
  )
  const pages = new Map<string, number>()
  for (let at = WAL_HEADER_BYTES; at + FRAME_HEADER_BYTES <= log.length;) {
    const tree = treeOf.get(log.readUInt32BE(at)) ?? '(free or header)'
    pages.set(tree, (pages.get(tree) ?? 0) + 1)
    at += FRAME_HEADER_BYTES + pageSize
  }
  return pages
}

/**
 * Our schema and our appender, on a connection set up as the server's, minus its checkpointer.
 * With `clientIds`, each message carries a `client_message_id` that sorts in sending order, as
 * the load generator and the SDK send them; without, as the guide's clients send.
 */
async function ourAppender(file: string, clientIds: boolean): Promise<Writer> {
  const store = await openSqliteStore({ file, synchronous: 'NORMAL' })
  const sessions = await seedSessionsOfTwo(store, SESSIONS, 'Store writes', newId)
  await store.close()

  const database = openSqliteDatabase({ file, synchronous: 'NORMAL' })
  database.pragma('wal_autocheckpoint = 0')
  const appender = new SqliteMessageAppender(
    database,
    new Kysely<Database>({ dialect: new SqliteDialect({ database }) }),
  )
  let sent = 0
  return {
    name: clientIds ? 'ours' : 'ours, no client ids',
    file,
    database,
    storeGroup: async (count) => {
      const group = Array.from({ length: count }, () => {
        const client = sent++ % (SESSIONS * 2)
        const session = sessions[client >> 1]!
        return appender.append(
          textMessage({
            id: newId(),
            chat_session_id: session.id,
            sender_id: session.senders[client & 1]!,
            client_message_id: clientIds ? clientMessageId(sent) : null,
            created_at: Date.now(),
          }),
        )
      })
      for (const result of await Promise.all(group)) {
        if (result.outcome !== 'stored') throw new Error(`not stored: ${result.outcome}`)
      }
    },
  }
}

/** The floor's row, committed as the bare ws server storing in SQLite commits it. */
function floor(file: string): Writer {
  const { db, insert } = openMessageRowFile(file)
  db.pragma('wal_autocheckpoint = 0')
  const commit = db.transaction((rows: MessageRow[]) => {
    for (const row of rows) insert.run(...row)
  })
  const sessionIds = Array.from({ length: SESSIONS }, () => newId())
  const seqs = new Map<string, number>()
  let sent = 0
  return {
    name: 'floor',
    file,
    database: db,
    storeGroup: (count) => {
      const rows = Array.from({ length: count }, (): MessageRow => {
        const sessionId = sessionIds[(sent++ % (SESSIONS * 2)) >> 1]!
        const seq = (seqs.get(sessionId) ?? 0) + 1
        seqs.set(sessionId, seq)
        // Its ids as the bare ws server makes them (random UUIDs).
        return [randomUUID(), sessionId, seq, MESSAGE_TEXT, Date.now()]
      })
      commit(rows)
      return Promise.resolve()
    },
  }
}
