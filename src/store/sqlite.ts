import fs from 'node:fs'
import path from 'node:path'
import {
  CompiledQuery,
  Kysely,
  SqliteAdapter,
  SqliteIntrospector,
  SqliteQueryCompiler,
  type DatabaseConnection,
  type Dialect,
  type Driver,
  type QueryResult,
} from 'kysely'
import { migrateToLatest } from './migrate.js'
import { SqliteCheckpointer } from './sqlite-checkpointer.js'
import {
  SqliteThread,
  toError,
  type AppendOutcome,
  type SqliteThreadOptions,
} from './sqlite-thread.js'
import type { Database } from './schema.js'
import { SqlStore, toMessageRecord, type MessageAppender } from './sql-store.js'
import type { AppendResult, NewMessage } from './store.js'

export type SqliteStoreOptions = SqliteThreadOptions

/** The embedded default: one file, WAL mode, nothing to install. */
export async function openSqliteStore(options: SqliteStoreOptions): Promise<SqlStore> {
  if (options.file !== ':memory:') fs.mkdirSync(path.dirname(options.file), { recursive: true })
  const thread = await SqliteThread.open(options)
  const db = new Kysely<Database>({ dialect: new SqliteThreadDialect(thread) })
  await migrateToLatest(db)
  // Checkpoints from a worker thread; SQLite's own (inside a commit) only if the worker fails.
  const checkpointer =
    options.file === ':memory:'
      ? undefined
      : new SqliteCheckpointer({
          file: options.file,
          // Holding the connection keeps new appends from being posted; the empty statement
          // waits for those already posted, since the thread runs everything in order.
          holdWrites: (finish) =>
            db.connection().execute(async () => {
              await thread.run('select 1')
              await finish()
            }),
          onFailure: () => void thread.run('pragma wal_autocheckpoint = 1000').catch(() => {}),
        })
  if (checkpointer !== undefined) await thread.run('pragma wal_autocheckpoint = 0')
  const close = async () => {
    await checkpointer?.close()
    await db.destroy()
  }
  return new SqlStore('sqlite', db, new SqliteMessageAppender(thread, db), close)
}

/** Kysely's SQLite dialect, its statements run by the connection's thread. */
class SqliteThreadDialect implements Dialect {
  constructor(private readonly thread: SqliteThread) {}

  createDriver(): Driver {
    return new SqliteThreadDriver(this.thread)
  }
  createQueryCompiler() {
    return new SqliteQueryCompiler()
  }
  createAdapter() {
    return new SqliteAdapter()
  }
  createIntrospector(db: Kysely<unknown>) {
    return new SqliteIntrospector(db)
  }
}

/**
 * SQLite has one connection: whoever holds it (a query, a transaction from `begin` to `commit`,
 * a group commit of messages) holds it alone, and the others wait their turn here.
 */
class SqliteThreadDriver implements Driver {
  readonly #connection: DatabaseConnection
  #turn: Promise<void> = Promise.resolve()
  #release: () => void = () => undefined

  constructor(private readonly thread: SqliteThread) {
    this.#connection = {
      executeQuery: async <R>(query: CompiledQuery): Promise<QueryResult<R>> => {
        const { rows, changes, lastInsertRowid } = await thread.run(query.sql, query.parameters)
        return changes === undefined
          ? { rows: rows as R[] }
          : { rows: [], numAffectedRows: BigInt(changes), insertId: BigInt(lastInsertRowid ?? 0) }
      },
      streamQuery: () => {
        throw new Error('Streaming queries are not supported on SQLite.')
      },
    }
  }

  async init(): Promise<void> {}

  async acquireConnection(): Promise<DatabaseConnection> {
    const previous = this.#turn
    let release: () => void = () => undefined
    this.#turn = new Promise((resolve) => (release = resolve))
    await previous
    this.#release = release
    return this.#connection
  }

  async releaseConnection(): Promise<void> {
    this.#release()
  }

  async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin'))
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('commit'))
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('rollback'))
  }

  async destroy(): Promise<void> {
    await this.thread.close()
  }
}

interface PendingAppend {
  message: NewMessage
  resolve: (result: AppendResult) => void
  reject: (error: unknown) => void
}

/**
 * A batch being stored lets the next one gather and be posted behind it, so the thread stores one
 * while the event loop broadcasts the one before; more in flight would only cut batches smaller,
 * each costing a message to the thread and back.
 */
const MAX_BATCHES_IN_FLIGHT = 2
/**
 * At this many messages a commit already costs little per message (our store alone: 16 to 19 µs
 * at 100, against 27 to 30 at 10), while every message of a batch is broadcast in one go once it
 * is stored: a backlog stored as one batch of thousands stalled the event loop for tens of
 * milliseconds, during which the next, larger backlog gathered.
 */
const MAX_BATCH = 100

/**
 * Group commit: appends that arrive while earlier ones are being stored are stored together, in
 * one transaction (up to `MAX_BATCH`), so a burst costs one commit (and one message to the thread
 * and back) instead of one per message. A batch is posted while holding the connection, so it
 * runs before or after a Kysely transaction, never inside one that is waiting between two
 * statements.
 */
class SqliteMessageAppender implements MessageAppender {
  readonly #thread: SqliteThread
  readonly #db: Kysely<Database>
  #queue: PendingAppend[] = []
  #inFlight = 0
  #isScheduled = false

  constructor(thread: SqliteThread, db: Kysely<Database>) {
    this.#thread = thread
    this.#db = db
  }

  append(message: NewMessage): Promise<AppendResult> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ message, resolve, reject })
      this.#schedule()
    })
  }

  /** A flush in the next turn of the event loop, so that the appends of this one go together. */
  #schedule(): void {
    if (this.#isScheduled || this.#queue.length === 0) return
    if (this.#inFlight >= MAX_BATCHES_IN_FLIGHT) return
    this.#isScheduled = true
    setImmediate(() => {
      this.#isScheduled = false
      void this.#flush()
    })
  }

  async #flush(): Promise<void> {
    this.#inFlight += 1
    let batch: PendingAppend[] | undefined
    // What arrived until the connection is ours goes in this batch, up to its size; the rest
    // follows in the next one, which can be posted right behind.
    const take = () => {
      batch = this.#queue.splice(0, MAX_BATCH)
      this.#schedule()
      return batch
    }
    let settle: () => void
    try {
      const posted = await this.#db.connection().execute(async () => ({
        outcomes: this.#thread.append(take().map((pending) => pending.message)),
      }))
      const outcomes = await posted.outcomes
      settle = () => batch!.forEach((pending, i) => settleOne(pending, outcomes[i]!))
    } catch (error) {
      settle = () => (batch ?? take()).forEach((pending) => pending.reject(error))
    }
    this.#inFlight -= 1
    this.#schedule()
    settle()
  }
}

function settleOne(pending: PendingAppend, outcome: AppendOutcome): void {
  switch (outcome.outcome) {
    case 'stored':
      return pending.resolve({
        outcome: 'stored',
        message: { ...pending.message, seq: outcome.seq },
      })
    case 'duplicate':
      return pending.resolve({ outcome: 'duplicate', message: toMessageRecord(outcome.row) })
    case 'failed':
      return pending.reject(toError(outcome.error))
    default:
      return pending.resolve({ outcome: outcome.outcome })
  }
}
