import type { Logger } from 'pino'
import type { DeliveryMark, Store } from '../store/store.js'

const FLUSH_INTERVAL_MS = 1_000

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
    try {
      await this.store.participants.markDelivered(marks)
    } catch (error) {
      this.log.warn({ err: error }, 'could not record deliveries; will retry')
      for (const mark of marks) this.record(mark.sessionId, mark.userId, mark.seq)
    }
  }
}
