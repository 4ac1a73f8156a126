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
 * The log starts over only once it holds this many frames (64 MiB of 4 KiB pages): starting over
 * holds appends for a few milliseconds (the last copy and its fsyncs), and at about once a second
 * (the fan-out workload's rate) that touches well under 1% of messages. In between, commits write
 * into the file already there, in place.
 */
const FRAMES_BEFORE_STARTING_OVER = 16_384
/** Appends are held only once what is left to copy is this small. */
const FRAMES_LEFT_WHILE_HOLDING = 64
/** Past this many passes the server writes faster than they copy; hold anyway, or the log grows. */
const MAX_PASSES = 8

interface CheckpointResult {
  /** Frames in the write-ahead log. */
  log: number
  /** Of those, frames now copied into the database file. */
  checkpointed: number
}

export interface SqliteCheckpointerOptions {
  file: string
  /**
   * Runs `finish` while nothing else in this process can write: the store holds its one
   * connection, and appends wait in their queue meanwhile.
   */
  holdWrites: (finish: () => Promise<void>) => Promise<void>
  /** Runs if the worker dies, so the caller can let SQLite checkpoint by itself again. */
  onFailure: () => void
  intervalMs?: number
  framesBeforeStartingOver?: number
}

/**
 * Copies the SQLite write-ahead log back into the database file from a worker thread, so the
 * event loop never waits for that copy or its fsync (SQLite would otherwise do it inside whichever
 * commit crosses its threshold: a stall of tens of milliseconds for every socket).
 *
 * A checkpoint beside a server that never stops writing can never copy the whole log, and the
 * log starts over only from a commit that finds it all copied: under steady load it would never
 * start over, and every commit would append to a file growing without bound (1.4 GB for 40,000
 * messages), which costs the kernel far more than the write itself. So once the log is long
 * enough, passes copy it until what is left is a few frames, and the last few are copied while
 * the server's writes are held; the next commit then rewrites the log from its start, in place.
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
    let { log } = await this.#checkpoint()
    if (log < (this.#options.framesBeforeStartingOver ?? FRAMES_BEFORE_STARTING_OVER)) return
    // Each pass copies what the server wrote during the one before, so the passes shrink; the
    // figures are those of the log as a pass found it, so the growth between two passes is what
    // the server wrote meanwhile.
    for (let pass = 1; pass < MAX_PASSES; pass++) {
      const previous = log
      ;({ log } = await this.#checkpoint())
      if (log - previous <= FRAMES_LEFT_WHILE_HOLDING) break
    }
    await this.#options.holdWrites(async () => {
      await this.#checkpoint()
    })
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
