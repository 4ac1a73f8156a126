import { setImmediate } from 'node:timers/promises'
import type { Logger } from 'pino'
import type { DeliveryMark, Store } from '../store/store.js'

const FLUSH_INTERVAL_MS = 1_000
/**
 * Marks written per statement. On SQLite a statement holds the one connection: 1,000 marks in one
 * took 2 to 7 ms, a wait every append felt once a second; a few hundred at a time, with appends
 * let in between, keep each wait under a millisecond.
 */
const MARKS_PER_WRITE = 200

/**
 * Delivered marks, written behind the hot path: a message that reached a participant's socket
 * raises their `last_delivered_seq`, but once a second, in one statement for every session and
 * user, is plenty for a `delivered` status, and the send path stays at one database round trip.
 */
export class DeliveryMarks {
  /** session → user → highest seq delivered */
  #pending = new Map<string, Map<string, number>>()
  readonly #timer: NodeJS.Timeout
  #flushing: Promise<void> = Promise.resolve()

  constructor(
    private readonly store: Store,
    private readonly log: Logger,
  ) {
    this.#timer = setInterval(() => void this.flush(), FLUSH_INTERVAL_MS)
    this.#timer.unref()
  }

  record(sessionId: string, userId: string, seq: number): void {
    let users = this.#pending.get(sessionId)
    if (users === undefined) this.#pending.set(sessionId, (users = new Map<string, number>()))
    if ((users.get(userId) ?? 0) < seq) users.set(userId, seq)
  }

  flush(): Promise<void> {
    this.#flushing = this.#flushing.then(() => this.#write())
    return this.#flushing
  }

  async close(): Promise<void> {
    clearInterval(this.#timer)
    await this.flush()
  }

  async #write(): Promise<void> {
    const marks: DeliveryMark[] = []
    for (const [sessionId, users] of this.#pending) {
      for (const [userId, seq] of users) marks.push({ sessionId, userId, seq })
    }
    this.#pending = new Map()
    if (marks.length === 0) return
    for (let at = 0; at < marks.length; at += MARKS_PER_WRITE) {
      if (at > 0) await setImmediate()
      try {
        await this.store.participants.markDelivered(marks.slice(at, at + MARKS_PER_WRITE))
      } catch (error) {
        this.log.warn({ err: error }, 'could not record deliveries; will retry')
        for (const mark of marks.slice(at)) this.record(mark.sessionId, mark.userId, mark.seq)
        return
      }
    }
  }
}
