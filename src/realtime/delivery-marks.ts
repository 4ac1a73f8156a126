import type { Logger } from 'pino'
import type { Store } from '../store/store.js'

const FLUSH_INTERVAL_MS = 1_000

/**
 * Delivered marks, written behind the hot path: a message that reached a participant's socket
 * raises their `last_delivered_seq`, but one write per second per session and user is plenty for a
 * `delivered` status, and the send path stays at one database round trip.
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
    const pending = this.#pending
    this.#pending = new Map()
    for (const [sessionId, users] of pending) {
      const bySeq = new Map<number, string[]>()
      for (const [userId, seq] of users) bySeq.set(seq, [...(bySeq.get(seq) ?? []), userId])
      for (const [seq, userIds] of bySeq) {
        try {
          await this.store.participants.markDelivered(sessionId, userIds, seq)
        } catch (error) {
          this.log.warn({ err: error, session: sessionId }, 'could not record delivery; will retry')
          for (const userId of userIds) this.record(sessionId, userId, seq)
        }
      }
    }
  }
}
