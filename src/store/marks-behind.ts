import { setTimeout } from 'node:timers/promises'

const FLUSH_INTERVAL_MS = 1_000

export interface MarksBehindOptions<Mark> {
  /** The figure that only ever rises, per key: a later record with a lower one is ignored. */
  level: (mark: Mark) => number
  /** Writes one chunk of marks; when it rejects, they are kept for the next flush. */
  write: (marks: Mark[]) => Promise<void>
  onWriteError: (error: unknown) => void
  /**
   * Marks per write. On SQLite a write holds the event loop and the one connection: 200 marks
   * took about a millisecond, and every message that arrived meanwhile waited for it.
   */
  chunk?: number
}

/**
 * Marks that only rise (a delivered seq, a session's last activity), kept in memory and written
 * behind the hot path: the highest per key, once a second, a few hundred per statement, instead
 * of one write per message.
 */
export class MarksBehind<Mark> {
  #pending = new Map<string, Mark>()
  readonly #options: Required<MarksBehindOptions<Mark>>
  readonly #timer: NodeJS.Timeout
  #flushing: Promise<void> = Promise.resolve()

  constructor(options: MarksBehindOptions<Mark>) {
    this.#options = { chunk: 50, ...options }
    this.#timer = setInterval(() => void this.flush(), FLUSH_INTERVAL_MS)
    this.#timer.unref()
  }

  record(key: string, mark: Mark): void {
    const pending = this.#pending.get(key)
    if (pending === undefined || this.#options.level(pending) < this.#options.level(mark))
      this.#pending.set(key, mark)
  }

  /** Writes every mark recorded so far; resolves once they are written (or kept after a failure). */
  flush(): Promise<void> {
    if (this.#pending.size > 0) this.#flushing = this.#flushing.then(() => this.#write())
    return this.#flushing
  }

  async close(): Promise<void> {
    clearInterval(this.#timer)
    await this.flush()
  }

  async #write(): Promise<void> {
    const entries = [...this.#pending]
    this.#pending = new Map()
    const { chunk, write } = this.#options
    for (let at = 0; at < entries.length; at += chunk) {
      // A timer, not an immediate: the messages that arrived during the last chunk are stored
      // (on an immediate of theirs) before the next chunk, so none waits for more than one.
      if (at > 0) await setTimeout(1)
      try {
        await write(entries.slice(at, at + chunk).map(([, mark]) => mark))
      } catch (error) {
        this.#options.onWriteError(error)
        for (const [key, mark] of entries.slice(at)) this.record(key, mark)
        return
      }
    }
  }
}
