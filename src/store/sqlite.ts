import fs from 'node:fs'
import path from 'node:path'
import SqliteDatabase from 'better-sqlite3'
import { Kysely, SqliteDialect, type SqliteDialectConfig } from 'kysely'
import { migrateToLatest } from './migrate.js'
import { SqliteCheckpointer } from './sqlite-checkpointer.js'
import type { ChatMessagesTable, Database } from './schema.js'
import { SqlStore, toMessageRecord, type MessageAppender } from './sql-store.js'
import { messageRecord, type AppendResult, type NewMessage } from './store.js'

export interface SqliteStoreOptions {
  /** A file path, or `:memory:` for tests. */
  file: string
  /** `NORMAL` survives a crash of the process; `FULL` also a power loss. */
  synchronous: 'NORMAL' | 'FULL'
}

/** The embedded default: one file, WAL mode, nothing to install. */
export async function openSqliteStore(options: SqliteStoreOptions): Promise<SqlStore> {
  const database = openSqliteDatabase(options)
  const db = new Kysely<Database>({
    dialect: new SqliteDialect({ database: withStatementCache(database) }),
  })
  await migrateToLatest(db)
  const appender = new SqliteMessageAppender(database, db)
  // Checkpoints from a worker thread; SQLite's own (inside a commit) only if the worker fails.
  const checkpointer =
    options.file === ':memory:'
      ? undefined
      : new SqliteCheckpointer({
          file: options.file,
          holdWrites: (finish) => appender.holdWrites(finish),
          onFailure: () => database.pragma('wal_autocheckpoint = 1000'),
        })
  if (checkpointer !== undefined) database.pragma('wal_autocheckpoint = 0')
  const close = async () => {
    await checkpointer?.close()
    await db.destroy()
  }
  return new SqlStore('sqlite', db, appender, close)
}

/** The store's connection to its file, set up as the store runs it (the bench opens one too). */
export function openSqliteDatabase(options: SqliteStoreOptions): SqliteDatabase.Database {
  if (options.file !== ':memory:') fs.mkdirSync(path.dirname(options.file), { recursive: true })
  const database = new SqliteDatabase(options.file)
  database.pragma('journal_mode = WAL')
  database.pragma(`synchronous = ${options.synchronous}`)
  database.pragma('foreign_keys = ON')
  database.pragma('busy_timeout = 5000')
  // Reads of a hot database come from memory: a 64 MB page cache and a memory-mapped file.
  database.pragma('cache_size = -65536')
  database.pragma('mmap_size = 268435456')
  return database
}

/**
 * The database as Kysely sees it, preparing each distinct SQL text once: Kysely prepares every
 * query it runs, and a server runs the same few queries over and over.
 */
function withStatementCache(database: SqliteDatabase.Database): SqliteDialectConfig['database'] {
  const statements = new Map<string, SqliteDatabase.Statement>()
  return {
    close: () => database.close(),
    prepare: (sql: string) => {
      let statement = statements.get(sql)
      if (statement === undefined) {
        // Queries with IN lists vary in length; past a bound the cache starts over.
        if (statements.size >= 500) statements.clear()
        statement = database.prepare(sql)
        statements.set(sql, statement)
      }
      return statement
    },
  }
}

interface PendingAppend {
  message: NewMessage
  resolve: (result: AppendResult) => void
  reject: (error: unknown) => void
}

/**
 * Group commit: appends that arrive in the same turn of the event loop are stored in one
 * transaction with prepared statements, so a burst costs one commit instead of one per message.
 * A batch that fails as a whole (a message breaking a constraint, which the checks before the
 * insert make all but impossible) is run again one message per transaction, so a bad message
 * fails alone and the others still commit.
 *
 * A batch runs straight on the connection, unless a Kysely transaction is open on it, waiting
 * between two statements: then it waits for Kysely's connection, so it never lands inside that
 * transaction. (Taking Kysely's connection for every batch built a Kysely instance each time:
 * a few microseconds, and objects that lived just long enough to burden the garbage collector.)
 */
export class SqliteMessageAppender implements MessageAppender {
  readonly #database: SqliteDatabase.Database
  readonly #db: Kysely<Database>
  readonly #statements: ReturnType<typeof prepareStatements>
  readonly #appendAll: (batch: PendingAppend[]) => AppendResult[]
  readonly #appendAlone: (message: NewMessage) => AppendResult
  #queue: PendingAppend[] = []
  #isHeld = false

  constructor(database: SqliteDatabase.Database, db: Kysely<Database>) {
    this.#database = database
    this.#db = db
    this.#statements = prepareStatements(database)
    this.#appendAll = database.transaction((batch: PendingAppend[]) =>
      batch.map((pending) => this.#appendOne(pending.message)),
    )
    this.#appendAlone = database.transaction((message: NewMessage) => this.#appendOne(message))
  }

  append(message: NewMessage): Promise<AppendResult> {
    return new Promise((resolve, reject) => {
      if (this.#queue.push({ message, resolve, reject }) === 1) this.#flushSoon()
    })
  }

  /** Runs `finish` while nothing in this process writes: Kysely's connection is held, appends wait. */
  async holdWrites(finish: () => Promise<void>): Promise<void> {
    try {
      await this.#db.connection().execute(async () => {
        this.#isHeld = true
        try {
          await finish()
        } finally {
          this.#isHeld = false
        }
      })
    } finally {
      // Appends that came meanwhile found a flush already due, which waited: one is due again.
      if (this.#queue.length > 0) this.#flushSoon()
    }
  }

  #flushSoon(): void {
    setImmediate(() => void this.#flush())
  }

  async #flush(): Promise<void> {
    if (this.#isHeld || this.#queue.length === 0) return
    const batch = this.#queue
    this.#queue = []
    if (!this.#database.inTransaction) return this.#store(batch)()
    let settle: () => void = () => undefined
    try {
      await this.#db.connection().execute(() => {
        settle = this.#store(batch)
        return Promise.resolve()
      })
    } catch (error) {
      for (const pending of batch) pending.reject(error)
      return
    }
    settle()
  }

  /** Commits the batch; returns how to settle each append once the connection is released. */
  #store(batch: PendingAppend[]): () => void {
    try {
      const results = this.#appendAll(batch)
      return () => batch.forEach((pending, i) => pending.resolve(results[i]!))
    } catch {
      const outcomes = batch.map((pending) => {
        try {
          const result = this.#appendAlone(pending.message)
          return () => pending.resolve(result)
        } catch (error) {
          return () => pending.reject(error)
        }
      })
      return () => outcomes.forEach((settleOne) => settleOne())
    }
  }

  /**
   * Two statements in the common case: read the session's status and newest seq, then insert the
   * message after it (one writer, so no other append comes between) unless its
   * `client_message_id` is already stored (the unique index skips it). One `insert … select` that
   * numbered the message itself cost a fifth more: reading the table it writes, SQLite first
   * copies the selected row into a temporary table, and `returning` builds another.
   */
  #appendOne(message: NewMessage): AppendResult {
    const statements = this.#statements
    const sessionId = message.chat_session_id
    const head = statements.sessionHead.get(sessionId)
    const canInsert =
      head?.status === 'active' &&
      (message.reply_to_id === null ||
        statements.replyExists.get(message.reply_to_id, sessionId) !== undefined)
    if (!canInsert) return this.#whyNotInserted(message, head)
    const seq = head.last_seq + 1
    const { changes } = statements.insert.run(
      message.id,
      sessionId,
      seq,
      message.sender_id,
      message.message_type,
      message.content,
      message.reply_to_id,
      message.mentions === null ? null : JSON.stringify(message.mentions),
      message.file_url,
      message.file_name,
      message.file_size,
      message.file_type,
      message.client_message_id,
      message.created_at,
    )
    if (changes === 0) return this.#whyNotInserted(message, head)
    return { outcome: 'stored', message: messageRecord(message, seq, message.mentions) }
  }

  /** An earlier send with the same `client_message_id` answers first, even in a closed session. */
  #whyNotInserted(message: NewMessage, head: SessionHead | undefined): AppendResult {
    if (message.client_message_id !== null) {
      const existing = this.#statements.byClientId.get(
        message.chat_session_id,
        message.sender_id,
        message.client_message_id,
      )
      if (existing !== undefined)
        return { outcome: 'duplicate', message: toMessageRecord(existing) }
    }
    if (head === undefined) return { outcome: 'session_missing' }
    if (head.status !== 'active') return { outcome: 'session_closed' }
    return { outcome: 'reply_missing' }
  }
}

/** What an append reads of its session first. */
interface SessionHead {
  status: string
  /** Its newest message's seq; 0 before the first. */
  last_seq: number
}

function prepareStatements(db: SqliteDatabase.Database) {
  return {
    byClientId: db.prepare<[string, string, string], ChatMessagesTable>(
      `select * from chat_messages
        where chat_session_id = ? and sender_id = ? and client_message_id = ?`,
    ),
    replyExists: db.prepare<[string, string], { one: number }>(
      'select 1 as one from chat_messages where id = ? and chat_session_id = ?',
    ),
    sessionHead: db.prepare<[string], SessionHead>(
      `select s.status,
              coalesce((select max(m.seq) from chat_messages m where m.chat_session_id = s.id), 0)
                as last_seq
         from chat_sessions s where s.id = ?`,
    ),
    insert: db.prepare<
      [
        string,
        string,
        number,
        string,
        string,
        string,
        string | null,
        string | null,
        string | null,
        string | null,
        number | null,
        string | null,
        string | null,
        number,
      ]
    >(
      `insert into chat_messages (id, chat_session_id, seq, sender_id, message_type, content,
          reply_to_id, mentions, file_url, file_name, file_size, file_type, client_message_id,
          created_at)
       values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       on conflict (client_message_id, chat_session_id, sender_id)
         where client_message_id is not null do nothing`,
    ),
  }
}
