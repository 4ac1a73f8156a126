import { createRequire } from 'node:module'
import { Worker, type MessagePort } from 'node:worker_threads'
import type SqliteDatabase from 'better-sqlite3'
import type { ChatMessagesTable } from './schema.js'
import type { NewMessage } from './store.js'

export interface SqliteThreadOptions {
  /** A file path, or `:memory:` for tests. */
  file: string
  /** `NORMAL` survives a crash of the process; `FULL` also a power loss. */
  synchronous: 'NORMAL' | 'FULL'
}

/** What one statement gave: the rows of a query, or the count of rows another one changed. */
export interface StatementResult {
  rows: unknown[]
  changes?: number
  lastInsertRowid?: number
}

/** One message of a group commit: its `seq` once stored, or why it was not. */
export type AppendOutcome =
  | { outcome: 'stored'; seq: number }
  | { outcome: 'duplicate'; row: ChatMessagesTable }
  | { outcome: 'session_closed' | 'session_missing' | 'reply_missing' }
  | { outcome: 'failed'; error: ThreadError }

interface ThreadError {
  message: string
  code?: string
}

/** What the thread is asked to do; a request is one of these with the id its reply carries. */
type Work =
  | { op: 'run'; sql: string; parameters: readonly unknown[] }
  | { op: 'append'; messages: NewMessage[] }

type Request = Work & { id: number }

type Reply =
  { id: number; result: StatementResult | AppendOutcome[] } | { id: number; error: ThreadError }

/**
 * The thread's whole program. It runs in a worker that has nothing of this module, so it refers
 * to nothing outside itself (types aside): the worker is started from its source text, which runs
 * the same from TypeScript sources (tests) and from `dist/`.
 */
function sqliteThreadMain(
  port: MessagePort,
  Database: typeof SqliteDatabase,
  { file, synchronous }: SqliteThreadOptions,
): void {
  const toThreadError = (error: unknown): ThreadError => {
    const { message, code } = error as { message?: unknown; code?: unknown }
    return {
      message: typeof message === 'string' ? message : String(error),
      ...(typeof code === 'string' ? { code } : {}),
    }
  }

  let db: SqliteDatabase.Database
  try {
    db = new Database(file)
    db.pragma('journal_mode = WAL')
    db.pragma(`synchronous = ${synchronous}`)
    db.pragma('foreign_keys = ON')
    db.pragma('busy_timeout = 5000')
    // Reads of a hot database come from memory: a 64 MB page cache and a memory-mapped file.
    db.pragma('cache_size = -65536')
    db.pragma('mmap_size = 268435456')
  } catch (error) {
    port.postMessage({ opened: false, error: toThreadError(error) })
    return
  }

  // The server runs the same few statements over and over: each distinct SQL text is prepared
  // once. Queries with IN lists vary in length; past a bound the cache starts over.
  const statements = new Map<string, SqliteDatabase.Statement>()
  const prepare = (sql: string): SqliteDatabase.Statement => {
    let statement = statements.get(sql)
    if (statement === undefined) {
      if (statements.size >= 500) statements.clear()
      statement = db.prepare(sql)
      statements.set(sql, statement)
    }
    return statement
  }

  const run = (sql: string, parameters: readonly unknown[]): StatementResult => {
    const statement = prepare(sql)
    if (statement.reader) return { rows: statement.all(...parameters) }
    const { changes, lastInsertRowid } = statement.run(...parameters)
    return { rows: [], changes, lastInsertRowid: Number(lastInsertRowid) }
  }

  // Prepared on first use: the tables exist only once the migrations have run.
  const insert = `insert into chat_messages (id, chat_session_id, seq, sender_id, message_type, content,
        reply_to_id, mentions, file_url, file_name, file_size, file_type, client_message_id,
        created_at)
     select ?, id, last_seq + 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?
       from chat_sessions where id = ? and status = 'active'
     on conflict (chat_session_id, sender_id, client_message_id) do nothing`
  const nextSeq = `update chat_sessions
        set last_seq = last_seq + 1, started_at = coalesce(started_at, ?), last_activity_at = ?
      where id = ?
      returning last_seq`
  const byClientId = `select * from chat_messages
      where chat_session_id = ? and sender_id = ? and client_message_id = ?`
  const replyExists = 'select 1 from chat_messages where id = ? and chat_session_id = ?'
  const sessionExists = 'select 1 from chat_sessions where id = ?'

  const whyNotInserted = (message: NewMessage): AppendOutcome => {
    const sessionId = message.chat_session_id
    if (message.client_message_id !== null) {
      const row = prepare(byClientId).get(sessionId, message.sender_id, message.client_message_id)
      if (row !== undefined) return { outcome: 'duplicate', row: row as ChatMessagesTable }
    }
    return prepare(sessionExists).get(sessionId) === undefined
      ? { outcome: 'session_missing' }
      : { outcome: 'session_closed' }
  }

  // Two statements in the common case: the insert takes its seq from the session row and skips a
  // repeated `client_message_id` (the unique index), then the session row moves on. Only when
  // nothing was inserted is it worth finding out why.
  const appendOne = (message: NewMessage): AppendOutcome => {
    const sessionId = message.chat_session_id
    if (
      message.reply_to_id !== null &&
      prepare(replyExists).get(message.reply_to_id, sessionId) === undefined
    ) {
      return prepare(sessionExists).get(sessionId) === undefined
        ? { outcome: 'session_missing' }
        : { outcome: 'reply_missing' }
    }
    const { changes } = prepare(insert).run(
      message.id,
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
      sessionId,
    )
    if (changes === 0) return whyNotInserted(message)
    const { last_seq } = prepare(nextSeq).get(
      message.created_at,
      message.created_at,
      sessionId,
    ) as {
      last_seq: number
    }
    return { outcome: 'stored', seq: last_seq }
  }

  const appendAll = db.transaction((messages: NewMessage[]) => messages.map(appendOne))
  const appendAlone = db.transaction(appendOne)

  // A batch that fails as a whole (a message breaking a constraint, which the checks before the
  // insert make all but impossible) is run again one message per transaction, so a bad message
  // fails alone and the others still commit.
  const append = (messages: NewMessage[]): AppendOutcome[] => {
    try {
      return appendAll(messages)
    } catch {
      return messages.map((message) => {
        try {
          return appendAlone(message)
        } catch (error) {
          return { outcome: 'failed', error: toThreadError(error) }
        }
      })
    }
  }

  port.on('message', (request: Request | 'close') => {
    if (request === 'close') {
      db.close()
      port.close()
      return
    }
    let reply: Reply
    try {
      const result =
        request.op === 'run' ? run(request.sql, request.parameters) : append(request.messages)
      reply = { id: request.id, result }
    } catch (error) {
      reply = { id: request.id, error: toThreadError(error) }
    }
    port.postMessage(reply)
  })
  port.postMessage({ opened: true })
}

/**
 * The SQLite connection, on a thread of its own. better-sqlite3 is synchronous: on the event
 * loop, every statement and commit (a third of the server's time under load, and the commit's
 * writes can wait on the disk) would stall every socket. Here the event loop only posts SQL and
 * messages and gets rows back; the thread works on the machine's other core.
 *
 * One thread holds the one connection, so SQLite still sees a single writer, and statements run in
 * the order they are posted.
 */
export class SqliteThread {
  readonly #worker: Worker
  readonly #pending = new Map<
    number,
    { resolve: (result: never) => void; reject: (error: Error) => void }
  >()
  readonly #exited: Promise<void>
  #nextId = 0
  #failure: Error | undefined

  readonly #opened: Promise<void>

  static async open(options: SqliteThreadOptions): Promise<SqliteThread> {
    const thread = new SqliteThread(options)
    await thread.#opened
    return thread
  }

  private constructor(options: SqliteThreadOptions) {
    const driver = createRequire(import.meta.url).resolve('better-sqlite3')
    const program = `const { parentPort, workerData } = require('node:worker_threads')
      ;(${sqliteThreadMain.toString()})(parentPort, require(workerData.driver), workerData)`
    this.#worker = new Worker(program, { eval: true, workerData: { driver, ...options } })
    this.#opened = new Promise((resolve, reject) => {
      this.#worker.once('message', (first: { opened: boolean; error?: ThreadError }) => {
        if (first.opened) resolve()
        else reject(toError(first.error!))
        this.#worker.unref()
        this.#worker.on('message', (reply: Reply) => this.#settle(reply))
      })
      this.#worker.once('error', (error) => reject(asError(error)))
      // A thread that ends before saying it opened (once settled, this does nothing).
      this.#worker.once('exit', () => reject(new Error('The database connection is not open.')))
    })
    this.#worker.on('error', (error) => this.#fail(asError(error)))
    this.#exited = new Promise((resolve) =>
      this.#worker.once('exit', () => {
        this.#fail(new Error('The database connection is not open.'))
        resolve()
      }),
    )
  }

  /** Runs one statement; a query's rows, or the rows another statement changed. */
  run(sql: string, parameters: readonly unknown[] = []): Promise<StatementResult> {
    return this.#request({ op: 'run', sql, parameters })
  }

  /** Stores the messages in one transaction, in order; one outcome each. */
  append(messages: NewMessage[]): Promise<AppendOutcome[]> {
    return this.#request({ op: 'append', messages })
  }

  async close(): Promise<void> {
    if (this.#failure === undefined) {
      // Keep the process alive until the connection is closed.
      this.#worker.ref()
      this.#worker.postMessage('close')
      await this.#exited
    }
  }

  #request<T>(work: Work): Promise<T> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure)
    const id = this.#nextId++
    // The thread keeps the process alive only while an answer is owed.
    if (this.#pending.size === 0) this.#worker.ref()
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject })
      this.#worker.postMessage({ id, ...work })
    })
  }

  #settle(reply: Reply): void {
    const pending = this.#pending.get(reply.id)
    if (pending === undefined) return
    this.#pending.delete(reply.id)
    if (this.#pending.size === 0) this.#worker.unref()
    if ('error' in reply) pending.reject(toError(reply.error))
    else pending.resolve(reply.result as never)
  }

  #fail(error: Error): void {
    this.#failure ??= error
    for (const pending of this.#pending.values()) pending.reject(this.#failure)
    this.#pending.clear()
  }
}

/** An error from the thread, with the SQLite code the edges recognise (`store-errors.ts`). */
export function toError(error: ThreadError): Error {
  return Object.assign(
    new Error(error.message),
    error.code === undefined ? {} : { code: error.code },
  )
}

/** What a thread's uncaught exception arrives as: an `Error`, or a plain copy of a driver's one. */
function asError(error: unknown): Error {
  return error instanceof Error ? error : toError(error as ThreadError)
}
