import fs from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { Worker } from 'node:worker_threads'
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
import type { ChatMessagesTable, Database } from './schema.js'
import { SqliteCheckpointer } from './sqlite-checkpointer.js'
import { SqlStore, toMessageRecord, type MessageAppender } from './sql-store.js'
import type { AppendResult, NewMessage } from './store.js'

export interface SqliteStoreOptions {
  /** A file path, or `:memory:` for tests. */
  file: string
  /** `NORMAL` survives a crash of the process; `FULL` also a power loss. */
  synchronous: 'NORMAL' | 'FULL'
}

/**
 * The embedded default: one file, WAL mode, nothing to install. The connection lives in a worker
 * thread (`sqlite-worker.cjs`), so SQLite's work, and the disk's, never holds up the event loop
 * that serves the sockets; checkpoints run on a second worker (`SqliteCheckpointer`).
 */
export async function openSqliteStore(options: SqliteStoreOptions): Promise<SqlStore> {
  if (options.file !== ':memory:') fs.mkdirSync(path.dirname(options.file), { recursive: true })
  const worker = new SqliteWorker(options)
  const db = new Kysely<Database>({ dialect: new WorkerSqliteDialect(worker) })
  try {
    await migrateToLatest(db)
  } catch (error) {
    await db.destroy()
    throw error
  }
  const checkpointer =
    options.file === ':memory:'
      ? undefined
      : new SqliteCheckpointer(options.file, () => {
          // The checkpoint worker died: let SQLite checkpoint inside commits again.
          void worker.query('pragma wal_autocheckpoint = 1000', []).catch(() => undefined)
        })
  const close = async () => {
    await checkpointer?.close()
    await db.destroy()
  }
  return new SqlStore('sqlite', db, new SqliteMessageAppender(worker, db), close)
}

type WorkerRequest =
  | { op: 'query'; sql: string; parameters: readonly unknown[] }
  | { op: 'append'; messages: StoredForm[] }
  | { op: 'close' }

/** A message as the worker stores it: `mentions` as JSON text. */
type StoredForm = Omit<NewMessage, 'mentions'> & { mentions: string | null }

type AppendOutcome =
  | { result: { outcome: 'stored' | 'duplicate'; row: ChatMessagesTable } }
  | { result: { outcome: 'session_closed' | 'session_missing' | 'reply_missing' } }
  | { error: WorkerError }

interface WorkerError {
  message: string
  code?: string
}

interface QueryAnswer {
  rows: unknown[]
  changes?: number
  lastInsertRowid?: number
}

/** The main thread's end of the SQLite worker: requests in, answers back, matched by id. */
class SqliteWorker {
  readonly #worker: Worker
  readonly #pending = new Map<
    number,
    { resolve(value: unknown): void; reject(error: Error): void }
  >()
  #nextId = 0
  #stopped: Error | undefined

  constructor(options: SqliteStoreOptions) {
    const driver = createRequire(import.meta.url).resolve('better-sqlite3')
    this.#worker = new Worker(new URL('./sqlite-worker.cjs', import.meta.url), {
      workerData: { file: options.file, synchronous: options.synchronous, driver },
    })
    this.#worker.on('message', (answer: { id: number; result?: unknown; error?: WorkerError }) => {
      const pending = this.#pending.get(answer.id)
      this.#pending.delete(answer.id)
      if (answer.error !== undefined) pending?.reject(toError(answer.error))
      else pending?.resolve(answer.result)
    })
    this.#worker.on('error', (error) => this.#stop(error))
    this.#worker.on('exit', () =>
      this.#stop(
        Object.assign(new Error('The database connection is not open'), { code: 'SQLITE_CLOSED' }),
      ),
    )
  }

  query(sql: string, parameters: readonly unknown[]): Promise<QueryAnswer> {
    return this.#request({ op: 'query', sql, parameters }) as Promise<QueryAnswer>
  }

  append(messages: StoredForm[]): Promise<AppendOutcome[]> {
    return this.#request({ op: 'append', messages }) as Promise<AppendOutcome[]>
  }

  async close(): Promise<void> {
    if (this.#stopped === undefined) await this.#request({ op: 'close' })
  }

  #request(request: WorkerRequest): Promise<unknown> {
    if (this.#stopped !== undefined) return Promise.reject(this.#stopped)
    const id = this.#nextId++
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject })
      this.#worker.postMessage({ id, ...request })
    })
  }

  #stop(error: Error): void {
    this.#stopped ??= error
    for (const pending of this.#pending.values()) pending.reject(error)
    this.#pending.clear()
  }
}

/** Errors cross threads as plain data; this gives them back their driver code. */
function toError(error: WorkerError): Error {
  return Object.assign(
    new Error(error.message),
    error.code === undefined ? {} : { code: error.code },
  )
}

/** Kysely's SQLite dialect over the worker: its adapter, compiler and introspector, our driver. */
class WorkerSqliteDialect implements Dialect {
  constructor(private readonly worker: SqliteWorker) {}

  createAdapter() {
    return new SqliteAdapter()
  }

  createDriver(): Driver {
    return new WorkerSqliteDriver(this.worker)
  }

  createIntrospector(db: Kysely<unknown>) {
    return new SqliteIntrospector(db)
  }

  createQueryCompiler() {
    return new SqliteQueryCompiler()
  }
}

/**
 * One connection, as SQLite has: a mutex hands it to one caller at a time, so a transaction's
 * statements never interleave with anyone else's (the worker runs requests in arrival order).
 */
class WorkerSqliteDriver implements Driver {
  readonly #connection: DatabaseConnection
  #lock: Promise<void> | undefined
  #unlock: (() => void) | undefined

  constructor(private readonly worker: SqliteWorker) {
    this.#connection = {
      executeQuery: async <R>(compiled: CompiledQuery): Promise<QueryResult<R>> => {
        const answer = await worker.query(compiled.sql, compiled.parameters)
        return {
          rows: answer.rows as R[],
          ...(answer.changes !== undefined && { numAffectedRows: BigInt(answer.changes) }),
          ...(answer.lastInsertRowid !== undefined && { insertId: BigInt(answer.lastInsertRowid) }),
        }
      },
      streamQuery: () => {
        throw new Error('streaming queries are not supported on SQLite')
      },
    }
  }

  async init(): Promise<void> {}

  async acquireConnection(): Promise<DatabaseConnection> {
    while (this.#lock !== undefined) await this.#lock
    this.#lock = new Promise((resolve) => (this.#unlock = resolve))
    return this.#connection
  }

  async releaseConnection(): Promise<void> {
    const unlock = this.#unlock
    this.#lock = undefined
    this.#unlock = undefined
    unlock?.()
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
    await this.worker.close()
  }
}

interface PendingAppend {
  message: NewMessage
  resolve: (result: AppendResult) => void
  reject: (error: unknown) => void
}

/**
 * Group commit: appends that arrive in the same turn of the event loop go to the worker as one
 * batch, stored in one transaction (see `appendBatch` in the worker). While a batch is being
 * stored the next one gathers, so batches grow with the load and commits stay few. Each batch holds
 * the connection's mutex, so it never lands inside someone's transaction.
 */
class SqliteMessageAppender implements MessageAppender {
  #queue: PendingAppend[] = []

  constructor(
    private readonly worker: SqliteWorker,
    private readonly db: Kysely<Database>,
  ) {}

  append(message: NewMessage): Promise<AppendResult> {
    return new Promise((resolve, reject) => {
      if (this.#queue.push({ message, resolve, reject }) === 1)
        setImmediate(() => void this.#flush())
    })
  }

  async #flush(): Promise<void> {
    const batch = this.#queue
    this.#queue = []
    let outcomes: AppendOutcome[]
    try {
      outcomes = await this.db.connection().execute(() =>
        this.worker.append(
          batch.map(({ message }) => ({
            ...message,
            mentions: message.mentions === null ? null : JSON.stringify(message.mentions),
          })),
        ),
      )
    } catch (error) {
      for (const pending of batch) pending.reject(error)
      return
    }
    batch.forEach((pending, i) => {
      const outcome = outcomes[i]!
      if ('error' in outcome) return pending.reject(toError(outcome.error))
      const { result } = outcome
      if (result.outcome === 'stored' || result.outcome === 'duplicate') {
        return pending.resolve({ outcome: result.outcome, message: toMessageRecord(result.row) })
      }
      pending.resolve({ outcome: result.outcome })
    })
  }
}
