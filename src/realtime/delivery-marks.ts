import type { Logger } from 'pino'
import { MarksBehind } from '../store/marks-behind.js'
import type { DeliveryMark, Store } from '../store/store.js'

/**
 * Delivered marks, written behind the hot path: a message that reached a participant's socket
 * raises their `last_delivered_seq`, but once a second, in one statement for every session and
 * user, is plenty for a `delivered` status, and the send path stays at one database round trip.
 */
export class DeliveryMarks {
  readonly #marks: MarksBehind<DeliveryMark>

  constructor(store: Store, log: Logger) {
    this.#marks = new MarksBehind({
      level: (mark) => mark.seq,
      write: (marks) => store.participants.markDelivered(marks),
      onWriteError: (error) => log.warn({ err: error }, 'could not record deliveries; will retry'),
    })
  }

  record(sessionId: string, userId: string, seq: number): void {
    this.#marks.record(`${sessionId} ${userId}`, { sessionId, userId, seq })
  }

  flush(): Promise<void> {
    return this.#marks.flush()
  }

  close(): Promise<void> {
    return this.#marks.close()
  }
}
