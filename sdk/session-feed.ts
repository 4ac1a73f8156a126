import type { Message } from '../src/chat/chat.schemas.js'
import { messageFrameFrom } from '../src/realtime/message-frame.js'
import type { MessageFrame } from '../src/realtime/protocol.js'
import { Backoff, type BackoffOptions } from './backoff.js'
import { ChatApiError } from './errors.js'
import { MAX_PAGE, type RestClient } from './rest-client.js'

export interface SessionFeedOptions {
  sessionId: string
  rest: RestClient
  /** The highest `seq` the app has already seen (0: none), and that message's id if known. */
  lastSeq: number
  lastMessageId: string | null
  /** Each message once, in `seq` order (`isNew`), and each duplicate after it (`!isNew`). */
  onMessage(frame: MessageFrame, isNew: boolean): void
  /** History could not be read to fill a gap; transient failures are retried with `retry`. */
  onError(error: unknown): void
  retry: BackoffOptions
}

/**
 * One session's messages as the app sees them: each exactly once, in `seq` order, whatever the
 * socket delivers. A frame whose `seq` is not above the last one delivered is a duplicate
 * (a replay, a resend answered); a frame whose `seq` jumps ahead waits while history `after=` the
 * last delivered message fills the gap. History is the authority: a viewer who blocks someone
 * legitimately skips `seq` numbers, and then history simply has nothing more to add.
 *
 * Frames are taken one at a time, in arrival order, so a frame that arrives during a gap fill
 * waits its turn. `after` queues other work (the session closing) behind what has arrived.
 */
export class SessionFeed {
  readonly #options: SessionFeedOptions
  #lastSeq: number
  #lastMessageId: string | null
  #queue: Promise<void> = Promise.resolve()
  #isStopped = false

  constructor(options: SessionFeedOptions) {
    this.#options = options
    this.#lastSeq = options.lastSeq
    this.#lastMessageId = options.lastMessageId
  }

  /** The highest `seq` delivered to the app: what a reconnect resumes from (`last_seq`). */
  get lastSeq(): number {
    return this.#lastSeq
  }

  get lastMessageId(): string | null {
    return this.#lastMessageId
  }

  push(frame: MessageFrame): void {
    this.after(() => this.#take(frame))
  }

  /** Runs `work` once every frame pushed so far has been delivered or dropped. */
  after(work: () => void | Promise<void>): void {
    this.#queue = this.#queue
      .then(async () => {
        if (!this.#isStopped) await work()
      })
      .catch((error: unknown) => this.#options.onError(error))
  }

  /** Delivers nothing more; a gap fill under way is abandoned. */
  stop(): void {
    this.#isStopped = true
  }

  async #take(frame: MessageFrame): Promise<void> {
    if (frame.metadata.seq > this.#lastSeq + 1) await this.#fillGap()
    if (!this.#isStopped) this.#deliver(frame)
  }

  #deliver(frame: MessageFrame): void {
    const isNew = frame.metadata.seq > this.#lastSeq
    if (isNew) {
      this.#lastSeq = frame.metadata.seq
      this.#lastMessageId = frame.metadata.message_id
    }
    this.#options.onMessage(frame, isNew)
  }

  /** Delivers what history has after the last delivered message; retries what may pass later. */
  async #fillGap(): Promise<void> {
    const backoff = new Backoff(this.#options.retry)
    while (!this.#isStopped) {
      try {
        for (const message of await this.#readMissed()) {
          if (this.#isStopped) return
          this.#deliver(messageFrameOf(message))
        }
        return
      } catch (error) {
        this.#options.onError(error)
        // Anything but a passing failure would fail again; the frame goes out with the gap.
        if (!(error instanceof ChatApiError && error.isTransient)) return
        await new Promise((resolve) => setTimeout(resolve, backoff.next()))
      }
    }
  }

  async #readMissed(): Promise<Message[]> {
    const { rest, sessionId } = this.#options
    if (this.#lastMessageId !== null) return rest.catchUp(sessionId, this.#lastMessageId)
    // No cursor yet (the app resumed from a bare seq): walk back from the newest to it.
    const newer: Message[] = []
    for await (const page of rest.historyPages(sessionId, { limit: MAX_PAGE })) {
      for (const message of page) {
        if (message.seq <= this.#lastSeq) return newer.reverse()
        newer.push(message)
      }
    }
    return newer.reverse()
  }
}

/** A stored message as the socket's `message` frame, field for field as the server builds it. */
export function messageFrameOf(message: Message): MessageFrame {
  return messageFrameFrom(message, message.created_at)
}
