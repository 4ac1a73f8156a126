import { createRequire } from 'node:module'
import { Worker } from 'node:worker_threads'

/**
 * Copies the SQLite write-ahead log back into the database file from a worker thread, so the
 * event loop never waits for that copy or its fsync (SQLite would otherwise do it inside whichever
 * commit crosses the threshold: a stall of tens of milliseconds for every socket). A PASSIVE
 * checkpoint never blocks the writer; the writer reuses the log from its start once one completes.
 *
 * The worker is inline JavaScript (CommonJS), so it runs the same from sources and from `dist/`.
 */
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads')
const Database = require(workerData.driver)
const db = new Database(workerData.file)
db.pragma('busy_timeout = 1000')
const checkpoint = () => {
  try {
    db.pragma('wal_checkpoint(PASSIVE)')
  } catch {
    // Busy or the file is going away: the next round tries again, or the main thread takes over.
  }
}
const timer = setInterval(checkpoint, workerData.intervalMs)
parentPort.on('message', (message) => {
  if (message !== 'close') return
  clearInterval(timer)
  checkpoint()
  db.close()
  parentPort.close()
})
`

export class SqliteCheckpointer {
  readonly #worker: Worker
  readonly #exited: Promise<void>

  /** `onFailure` runs if the worker dies, so the caller can let SQLite checkpoint by itself again. */
  constructor(file: string, onFailure: () => void, intervalMs = 250) {
    const driver = createRequire(import.meta.url).resolve('better-sqlite3')
    this.#worker = new Worker(WORKER, { eval: true, workerData: { file, driver, intervalMs } })
    this.#worker.unref()
    let isClosing = false
    this.#worker.on('error', () => {
      if (!isClosing) onFailure()
    })
    this.#exited = new Promise((resolve) => this.#worker.once('exit', () => resolve()))
    this.close = async () => {
      isClosing = true
      // Keep the process alive until the last checkpoint is done.
      this.#worker.ref()
      this.#worker.postMessage('close')
      await this.#exited
    }
  }

  /** Runs a last checkpoint and stops the worker. */
  readonly close: () => Promise<void>
}
