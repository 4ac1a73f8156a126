export interface TypingThrottleOptions {
  /** At most one `typing: "true"` per session per this many ms while keys are pressed. Default
   * 2 000; keep it under the server's typing timeout (5 s), or the indicator flickers. */
  throttleMs?: number
  /** `typing: "false"` after this many ms without a keystroke, as in the guide. Default 3 000. */
  idleMs?: number
}

interface TypingState {
  /** When `"true"` was last sent; undefined while not typing. */
  sentTrueAt: number | undefined
  idleTimer: ReturnType<typeof setTimeout> | undefined
}

/**
 * The guide's "Typing Indicator Throttling", per session: `keystroke` may be called on every key
 * press; it sends `"true"` at once, then at most once per `throttleMs` to keep the state alive on
 * the server, and `"false"` after `idleMs` without a keystroke. `stop` (the message was sent, the
 * field cleared) sends `"false"` at once, if `"true"` was sent.
 */
export class TypingThrottle {
  readonly #throttleMs: number
  readonly #idleMs: number
  readonly #send: (sessionId: string, isTyping: boolean) => void
  readonly #sessions = new Map<string, TypingState>()

  constructor(
    send: (sessionId: string, isTyping: boolean) => void,
    options: TypingThrottleOptions,
  ) {
    this.#send = send
    this.#throttleMs = options.throttleMs ?? 2_000
    this.#idleMs = options.idleMs ?? 3_000
  }

  keystroke(sessionId: string): void {
    let state = this.#sessions.get(sessionId)
    if (state === undefined) {
      state = { sentTrueAt: undefined, idleTimer: undefined }
      this.#sessions.set(sessionId, state)
    }
    const now = Date.now()
    if (state.sentTrueAt === undefined || now - state.sentTrueAt >= this.#throttleMs) {
      state.sentTrueAt = now
      this.#send(sessionId, true)
    }
    clearTimeout(state.idleTimer)
    state.idleTimer = setTimeout(() => this.stop(sessionId), this.#idleMs)
  }

  stop(sessionId: string): void {
    const state = this.#sessions.get(sessionId)
    if (state === undefined) return
    clearTimeout(state.idleTimer)
    this.#sessions.delete(sessionId)
    if (state.sentTrueAt !== undefined) this.#send(sessionId, false)
  }

  /** Forgets a session without sending anything (its socket is gone). */
  forget(sessionId: string): void {
    clearTimeout(this.#sessions.get(sessionId)?.idleTimer)
    this.#sessions.delete(sessionId)
  }
}
