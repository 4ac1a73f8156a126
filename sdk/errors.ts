import type { ErrorFrame } from '../src/realtime/protocol.js'

/**
 * A REST call that failed: the server's `{detail, code}` body with the HTTP status. `code` is one of
 * the server's stable codes (`bad_request`, `unauthenticated`, `forbidden`, `not_found`,
 * `conflict`, `rate_limited`, `unavailable`, …); the SDK adds `network_error` (status 0: the
 * server could not be reached) and `bad_response` (a body that is not the documented JSON).
 */
export class ChatApiError extends Error {
  /** Seconds to wait before retrying, from `Retry-After` (429). */
  readonly retryAfterSeconds: number | undefined

  constructor(
    readonly status: number,
    readonly code: string,
    readonly detail: string,
    options?: ErrorOptions & { retryAfterSeconds?: number | undefined },
  ) {
    super(`${code}: ${detail}`, options)
    this.name = 'ChatApiError'
    this.retryAfterSeconds = options?.retryAfterSeconds
  }

  /** Worth retrying later as is: the network, a server fault, or a limit. */
  get isTransient(): boolean {
    return this.status === 0 || this.status === 429 || this.status >= 500
  }
}

/**
 * A socket-side failure: the server's `error` frame (its `code`, `detail` and the
 * `client_message_id` of the send it answers), or a reason the SDK gave up on a send or a join:
 *
 * - `conflict`: the session was closed before the server stored the message (as the server says);
 * - `refused`: the server refused the socket (close 1008) or the subscription;
 * - `cancelled`: the app left the session or closed the client first;
 * - `not_joined`: a send to a session the app has not joined;
 * - `payload_too_large`: the frame would exceed the server's 64 KiB limit, so it was never sent;
 * - any REST code (`forbidden`, `not_found`, …) when the session could not be read on joining.
 */
export class ChatSocketError extends Error {
  constructor(
    readonly code: string,
    readonly detail: string,
    readonly chatSessionId: string | null,
    readonly clientMessageId: string | null = null,
  ) {
    super(`${code}: ${detail}`)
    this.name = 'ChatSocketError'
  }

  static fromFrame(frame: ErrorFrame): ChatSocketError {
    const { code, detail, client_message_id } = frame.metadata
    return new ChatSocketError(code, detail, frame.chat_session_id, client_message_id)
  }
}
