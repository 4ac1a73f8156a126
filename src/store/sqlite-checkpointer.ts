import { createRequire } from 'node:module'
import { Worker } from 'node:worker_threads'

/**
 * The worker: one connection of its own, one PASSIVE checkpoint per request, the log's size and
 * how much of it is now in the database file in reply. Inline JavaScript (CommonJS), so it runs
 * the same from sources and from `dist/`.
 */
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads')
const Database = require(workerData.driver)
const db = new Database(workerData.file)
db.pragma('busy_timeout = 1000')
const checkpoint = () => {
  try {
    const [{ log, checkpointed }] = db.pragma('wal_checkpoint(PASSIVE)')
    return { log, checkpointed }
  } catch {
    // Busy or the file is going away: the next round tries again.
    return { log: 0, checkpointed: 0 }
  }
}
parentPort.on('message', (message) => {
  if (message === 'checkpoint') return parentPort.postMessage(checkpoint())
  checkpoint()
  db.close()
  parentPort.close()
})
`

/**
 * The event loop copies the rest only once it is this small (a fraction of a millisecond): a
 * longer stall would show in the latency of every message sent meanwhile.
 */
const FRAMES_TO_COPY_WHILE_HOLDING = 64
/** Past this many passes the server writes faster than they copy; finish anyway, or the log grows. */
const MAX_PASSES_BEFORE_HOLDING = 8

interface CheckpointResult {
  /** Frames in the write-ahead log. */
  log: number
  /** Of those, frames now copied into the database file. */
  checkpointed: number
}

export interface SqliteCheckpointerOptions {
  file: string
  /**
   * Copies the last few frames on the server's own connection, synchronously, so no commit can
   * come between (a PASSIVE checkpoint, skipped while that connection is inside a transaction).
   */
  finishOnWriter: () => void
  /** Runs if the worker dies, so the caller can let SQLite checkpoint by itself again. */
  onFailure: () => void
  intervalMs?: number
}

/**
 * Copies the SQLite write-ahead log back into the database file from a worker thread, so the
 * event loop never waits for that copy or its fsync (SQLite would otherwise do it inside whichever
 * commit crosses its threshold: a stall of tens of milliseconds for every socket).
 *
 * A round has two steps. The first copies the log while the server goes on writing, so it can
 * never copy all of it: under steady load the log would then never start over, and every commit
 * would append to a file growing without bound (1.4 GB for 40,000 messages), which costs the
 * kernel far more than the write itself. So once the passes have caught up to within a few frames,
 * the server's own connection copies those last few, on the event loop, where no commit can come
 * between (a fraction of a millisecond: waiting for the worker instead would put its scheduling in
 * every message's latency); the next commit then rewrites the log from its start, in place.
 */
export class SqliteCheckpointer {
  readonly #worker: Worker
  readonly #options: SqliteCheckpointerOptions
  readonly #exited: Promise<void>
  #reply:
    { resolve: (result: CheckpointResult) => void; reject: (error: Error) => void } | undefined
  #timer: NodeJS.Timeout | undefined
  #round: Promise<void> = Promise.resolve()
  #isClosing = false

  constructor(options: SqliteCheckpointerOptions) {
    this.#options = options
    const driver = createRequire(import.meta.url).resolve('better-sqlite3')
    this.#worker = new Worker(WORKER, { eval: true, workerData: { file: options.file, driver } })
    this.#worker.unref()
    this.#worker.on('message', (result: CheckpointResult) => {
      this.#reply?.resolve(result)
      this.#reply = undefined
    })
    this.#worker.on('error', () => this.#fail())
    this.#exited = new Promise((resolve) =>
      this.#worker.once('exit', () => {
        this.#fail()
        resolve()
      }),
    )
    this.#schedule()
  }

  /** Finishes the round under way, runs a last checkpoint and stops the worker. */
  async close(): Promise<void> {
    this.#isClosing = true
    clearTimeout(this.#timer)
    await this.#round
    // Keep the process alive until the last checkpoint is done.
    this.#worker.ref()
    this.#worker.postMessage('close')
    await this.#exited
  }

  #schedule(): void {
    this.#timer = setTimeout(() => {
      this.#round = this.#runRound().then(
        () => this.#schedule(),
        () => undefined, // the worker is gone; #fail has handed checkpoints back to SQLite
      )
    }, this.#options.intervalMs ?? 250)
    this.#timer.unref()
  }

  async #runRound(): Promise<void> {
    if (this.#isClosing) return
    // Each pass copies what the server wrote during the one before, so the passes shrink; the
    // figures are those of the log as a pass found it, so the growth between two passes is what
    // the server wrote meanwhile.
    let { log } = await this.#checkpoint()
    for (let pass = 1; pass < MAX_PASSES_BEFORE_HOLDING; pass++) {
      const previous = log
      ;({ log } = await this.#checkpoint())
      if (log - previous <= FRAMES_TO_COPY_WHILE_HOLDING) break
    }
    if (log > 0) this.#options.finishOnWriter()
  }

  #checkpoint(): Promise<CheckpointResult> {
    return new Promise((resolve, reject) => {
      this.#reply = { resolve, reject }
      this.#worker.postMessage('checkpoint')
    })
  }

  #fail(): void {
    clearTimeout(this.#timer)
    this.#reply?.reject(new Error('the checkpoint worker stopped'))
    this.#reply = undefined
    if (!this.#isClosing) {
      this.#isClosing = true
      this.#options.onFailure()
    }
  }
}
