import type { MessageFrame, SendFrame } from '../src/realtime/protocol.js'
import { Backoff, type BackoffOptions } from './backoff.js'
import type { ChatSocketError } from './errors.js'

/** A `text` or `file` frame as the SDK sends it: always with its session and its own id. */
export type OutgoingFrame = SendFrame & { chat_session_id: string; client_message_id: string }

/** Error codes after which the same send may pass later: it is sent again, not rejected. */
const RETRIED_CODES: ReadonlySet<string> = new Set(['unavailable', 'rate_limited'])

interface PendingSend {
  readonly frame: OutgoingFrame
  readonly resolve: (message: MessageFrame) => void
  readonly reject: (error: ChatSocketError) => void
  readonly backoff: Backoff
  /** Sent on the current connection; a new connection sends it again. */
  isSent: boolean
  retryTimer: ReturnType<typeof setTimeout> | undefined
}

export interface OutboxOptions {
  /** Sends a frame if its session is live now; returns whether it did. */
  transmit(frame: OutgoingFrame): boolean
  /** Delays between attempts of one send after `unavailable` or `rate_limited`. */
  retry: BackoffOptions
}

/**
 * Sends not yet acknowledged. A send is acknowledged by the server's `message` frame carrying its
 * `client_message_id` (the broadcast of the sender's own message, a replay, or the stored message
 * the server returns for a repeat), and only then resolves. Until then it is sent again on every
 * new connection of its session with the same `client_message_id`, which the server stores at
 * most once. An `error` frame for it rejects it, unless its code says to try again later.
 *
 * Sends go out in the order they were made; one retried after `rate_limited` or `unavailable`
 * may be stored after sends made later.
 */
export class Outbox {
  readonly #options: OutboxOptions
  /** Insertion order is send order. */
  readonly #pending = new Map<string, PendingSend>()

  constructor(options: OutboxOptions) {
    this.#options = options
  }

  /** Queues a send and sends it now if its session is live; resolves on acknowledgement. */
  add(frame: OutgoingFrame): Promise<MessageFrame> {
    return new Promise((resolve, reject) => {
      const send: PendingSend = {
        frame,
        resolve,
        reject,
        backoff: new Backoff(this.#options.retry),
        isSent: false,
        retryTimer: undefined,
      }
      this.#pending.set(frame.client_message_id, send)
      this.#transmit(send)
    })
  }

  /** The session is live (again): sends, in order, what this connection has not carried yet. */
  flush(sessionId: string): void {
    for (const send of this.#of(sessionId)) {
      if (!send.isSent && send.retryTimer === undefined) this.#transmit(send)
    }
  }

  /** The session's connection was lost: whatever is unacknowledged goes again on the next one. */
  disconnected(sessionId: string): void {
    for (const send of this.#of(sessionId)) send.isSent = false
  }

  /** Resolves the send this message acknowledges, if any. */
  acknowledge(message: MessageFrame): void {
    const id = message.metadata.client_message_id
    const send = id === null ? undefined : this.#pending.get(id)
    if (send === undefined || send.frame.chat_session_id !== message.chat_session_id) return
    this.#remove(send)
    send.resolve(message)
  }

  /**
   * Applies an `error` frame to the send it names: a later attempt for `unavailable` and
   * `rate_limited`, rejection otherwise. Returns false if it names no pending send.
   */
  fail(error: ChatSocketError): boolean {
    const send =
      error.clientMessageId === null ? undefined : this.#pending.get(error.clientMessageId)
    if (send === undefined) return false
    if (RETRIED_CODES.has(error.code)) {
      send.isSent = false
      clearTimeout(send.retryTimer)
      send.retryTimer = setTimeout(() => {
        send.retryTimer = undefined
        this.#transmit(send)
      }, send.backoff.next())
    } else {
      this.#remove(send)
      send.reject(error)
    }
    return true
  }

  /** Rejects every pending send of the session (all sessions without one), with `reason`'s error. */
  rejectAll(sessionId: string | null, reason: (clientMessageId: string) => ChatSocketError): void {
    const sends = sessionId === null ? [...this.#pending.values()] : this.#of(sessionId)
    for (const send of sends) {
      this.#remove(send)
      send.reject(reason(send.frame.client_message_id))
    }
  }

  /** How many sends wait for acknowledgement (of one session, or of all). */
  size(sessionId?: string): number {
    return sessionId === undefined ? this.#pending.size : this.#of(sessionId).length
  }

  #of(sessionId: string): PendingSend[] {
    return [...this.#pending.values()].filter((send) => send.frame.chat_session_id === sessionId)
  }

  #transmit(send: PendingSend): void {
    send.isSent = this.#options.transmit(send.frame)
  }

  #remove(send: PendingSend): void {
    clearTimeout(send.retryTimer)
    this.#pending.delete(send.frame.client_message_id)
  }
}
