import type { MessageBody } from '../src/chat/chat.schemas.js'
import { CloseCode } from '../src/realtime/close-codes.js'
import type {
  ClientFrame,
  ErrorFrame,
  MessageFrame,
  ReadReceiptFrame,
  ServerFrame,
  SessionClosedFrame,
  TypingIndicatorFrame,
  UserJoinedFrame,
  UserLeftFrame,
} from '../src/realtime/protocol.js'
import { Backoff, type BackoffOptions } from './backoff.js'
import { ChatSocket, type SocketState, type WebSocketConstructor } from './chat-socket.js'
import { Emitter } from './emitter.js'
import { ChatApiError, ChatSocketError } from './errors.js'
import { Outbox, type OutgoingFrame } from './outbox.js'
import { RestClient } from './rest-client.js'
import { SessionFeed } from './session-feed.js'
import { timeOrderedId } from './time-ordered-id.js'
import { TypingThrottle, type TypingThrottleOptions } from './typing-throttle.js'

/** CONTRACT.md: a frame over 64 KiB closes the socket (1009); such a send is refused up front. */
const MAX_FRAME_BYTES = 64 * 1024

/** Subscription errors worth another try: the server could not answer, it did not say no. */
const PASSING_CODES: ReadonlySet<string> = new Set(['unavailable', 'internal'])

/**
 * `per-session`: one socket per session, `/api/v1/chat/ws/{id}?last_seq=N` (the guide's form).
 * `multiplexed`: one socket for every session, `/api/v1/chat/ws` with `subscribe` frames (the
 * portal's form, for agents who work several chats at once).
 */
export type SocketForm = 'per-session' | 'multiplexed'

export interface ChatClientOptions {
  /** The server's origin, e.g. `https://api.swipesavvy.app`; the socket URL is derived from it. */
  baseUrl: string
  /** A bearer token the app kept; otherwise call `rest.login` first. */
  token?: string
  /**
   * The WebSocket class. Default: `globalThis.WebSocket` (browsers, React Native, Node 22+). In
   * Node 20, pass the `ws` package's: `import WebSocket from 'ws'` then `{ WebSocket }`.
   */
  WebSocket?: WebSocketConstructor
  /** Default: the global `fetch`. */
  fetch?: typeof fetch
  /** Default `per-session`. */
  socketForm?: SocketForm
  /**
   * Delays of reconnects, of sends the server asked to retry (`rate_limited`, `unavailable`) and
   * of history reads that failed: exponential with full jitter. Default 500 ms doubling to 30 s.
   */
  backoff?: BackoffOptions
  typing?: TypingThrottleOptions
  /** A silent connection is replaced after two of these (ms). Default 25 000; 0 turns it off. */
  pingIntervalMs?: number
  /** Makes each send's `client_message_id`. Default: `timeOrderedId` (a UUID version 7). */
  newId?: () => string
}

/** Where an app stands in a session: keep it to resume there later with `join`. */
export interface SessionPosition {
  /** The highest `seq` the app has seen; 0 for none. */
  lastSeq: number
  /** The id of that message, if known (lets a gap be read with `after=` directly). */
  lastMessageId?: string | null
}

export interface StateChange {
  /** The session of a per-session socket; null for the multiplexed socket. */
  chatSessionId: string | null
  state: SocketState
}

/** The server said no; nothing is retried. Log in again (or get added) and `join` again. */
export interface Refusal {
  /** The session refused, or null when the whole multiplexed socket was (e.g. its token). */
  chatSessionId: string | null
  /** 1008 when a socket was closed; null when the multiplexed socket refused a subscription. */
  closeCode: typeof CloseCode.REFUSED | null
  /** The close reason (`invalid token`, `not a participant`, …) or the error frame's detail. */
  reason: string
}

export interface ChatEvents {
  /** A message, once, in `seq` order per session: live, replayed on resume, or read from history. */
  message: MessageFrame
  typing: TypingIndicatorFrame
  /** `user_joined` / `user_left` with `metadata.total_users`. */
  presence: UserJoinedFrame | UserLeftFrame
  read_receipt: ReadReceiptFrame
  /** After the session's last message; the session's pending sends are rejected (`conflict`). */
  session_closed: SessionClosedFrame
  /** An `error` frame that answers no send, or a failed attempt the SDK will retry or give up. */
  error: ChatSocketError | ChatApiError
  state: StateChange
  refused: Refusal
}

/** A text message: the guide's `text` frame without the parts the SDK fills in. */
export type TextMessage = { content: string } & Pick<MessageBody, 'reply_to_id' | 'mentions'>

/** A file message (upload the file first); `content` defaults to the file's name. */
export type FileMessage = {
  [K in 'file_url' | 'file_name' | 'file_type']-?: NonNullable<MessageBody[K]>
} & Pick<MessageBody, 'content' | 'file_size' | 'reply_to_id' | 'mentions'>

interface JoinedSession {
  readonly id: string
  readonly joined: Promise<void>
  readonly settleJoin: { resolve(): void; reject(error: Error): void }
  /** Set once the starting position is known. */
  feed: SessionFeed | undefined
  /** The per-session form's socket. */
  socket: ChatSocket | undefined
  /** Frames of this session reach the server and the server's reach the app. */
  isLive: boolean
  /** Multiplexed: `subscribe` sent, `subscribed` not yet back. */
  isSubscribing: boolean
  readonly retry: Backoff
  retryTimer: ReturnType<typeof setTimeout> | undefined
}

/**
 * A chat client over the REST API and the socket, with these guarantees per joined session:
 *
 * - **Every message once, in order.** `message` events come in `seq` order with no duplicate: a
 *   frame at or below the last delivered `seq` is dropped, and a jump in `seq` is filled from
 *   history (`after=` the last delivered message) before the newer message is delivered. A viewer
 *   who blocks someone sees legitimate jumps; each costs one history read that adds nothing.
 * - **Nothing lost across reconnects.** After a server fault or restart (1011), an abnormal close
 *   (1006) or a network error the socket reconnects with exponential backoff and full jitter, and
 *   resumes from the last delivered `seq` (`last_seq`). A refusal (1008) and a closed session
 *   are final.
 * - **Sends are acknowledged, never doubled.** `send` resolves when the server's broadcast of the
 *   message comes back with its `client_message_id`. Until then it stays in an outbox and is sent
 *   again with the same id on every new connection (the server stores it once). An `error` frame
 *   rejects it, except `rate_limited` and `unavailable`, which are retried with backoff.
 */
export class ChatClient {
  /** The REST API, sharing this client's token (`rest.login` sets it for the socket too). */
  readonly rest: RestClient
  readonly #events = new Emitter<ChatEvents>()
  readonly #sessions = new Map<string, JoinedSession>()
  readonly #outbox: Outbox
  readonly #typing: TypingThrottle
  readonly #WebSocket: WebSocketConstructor
  readonly #form: SocketForm
  readonly #backoff: BackoffOptions
  readonly #pingIntervalMs: number
  readonly #newId: () => string
  #multiplexed: ChatSocket | undefined
  #isClosed = false

  constructor(options: ChatClientOptions) {
    this.rest = new RestClient({
      baseUrl: options.baseUrl,
      token: options.token,
      ...(options.fetch !== undefined && { fetch: options.fetch }),
    })
    const WebSocket =
      options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket
    if (WebSocket === undefined) {
      throw new TypeError(
        'No WebSocket implementation: pass one as the WebSocket option (in Node 20, the ws package).',
      )
    }
    this.#WebSocket = WebSocket
    this.#form = options.socketForm ?? 'per-session'
    this.#backoff = options.backoff ?? {}
    this.#pingIntervalMs = options.pingIntervalMs ?? 25_000
    this.#newId = options.newId ?? (() => timeOrderedId())
    this.#outbox = new Outbox({
      transmit: (frame) => this.#transmit(frame.chat_session_id, frame),
      retry: this.#backoff,
    })
    this.#typing = new TypingThrottle(
      (sessionId, isTyping) =>
        this.#transmit(sessionId, {
          message_type: 'typing',
          content: isTyping ? 'true' : 'false',
          chat_session_id: sessionId,
        }),
      options.typing ?? {},
    )
  }

  /** Calls `listener` on every `event` until the returned function is called. */
  on<K extends keyof ChatEvents>(event: K, listener: (payload: ChatEvents[K]) => void): () => void {
    return this.#events.on(event, listener)
  }

  /**
   * Starts receiving a session, from `from` if given (a position the app kept), else from now
   * (the session's newest `seq`, read over REST). Resolves once the session is live: the socket
   * was accepted (per-session) or the subscription confirmed (multiplexed), after any replay.
   * Rejects with a `ChatApiError` if the session cannot be read, or a `ChatSocketError` with code
   * `refused` if the server refuses the socket or subscription. Joining twice returns the first
   * join's promise.
   */
  join(sessionId: string, from?: SessionPosition): Promise<void> {
    const existing = this.#sessions.get(sessionId)
    if (existing !== undefined) return existing.joined
    if (this.#isClosed) return Promise.reject(closedError(sessionId))
    let settleJoin: JoinedSession['settleJoin'] | undefined
    const joined = new Promise<void>((resolve, reject) => (settleJoin = { resolve, reject }))
    // Failures also reach the `refused` and `error` events; an app need not await the join.
    joined.catch(() => undefined)
    const session: JoinedSession = {
      id: sessionId,
      joined,
      settleJoin: settleJoin!,
      feed: undefined,
      socket: undefined,
      isLive: false,
      isSubscribing: false,
      retry: new Backoff(this.#backoff),
      retryTimer: undefined,
    }
    this.#sessions.set(sessionId, session)
    this.#start(session, from).catch((error: unknown) => {
      const failure = asChatError(error, sessionId)
      session.settleJoin.reject(failure)
      this.#drop(session, new ChatSocketError(failure.code, failure.detail, sessionId))
    })
    return joined
  }

  /** Stops receiving a session. Its unacknowledged sends are rejected (`cancelled`). */
  leave(sessionId: string): void {
    const session = this.#sessions.get(sessionId)
    if (session === undefined) return
    if ((session.isLive || session.isSubscribing) && session.socket === undefined) {
      this.#multiplexed?.send({ message_type: 'unsubscribe', chat_session_id: sessionId })
    }
    this.#drop(session, closedError(sessionId, 'The app left the session.'))
    if (this.#sessions.size === 0) {
      this.#multiplexed?.close()
      this.#multiplexed = undefined
    }
  }

  /** Where the app stands in a joined session (undefined before the join has its start). */
  position(sessionId: string): Required<SessionPosition> | undefined {
    const feed = this.#sessions.get(sessionId)?.feed
    return feed && { lastSeq: feed.lastSeq, lastMessageId: feed.lastMessageId }
  }

  /** The session is joined and its socket is connected. */
  isLive(sessionId: string): boolean {
    return this.#sessions.get(sessionId)?.isLive === true
  }

  /** Sends not yet acknowledged by the server (of one session, or of all). */
  unacknowledged(sessionId?: string): number {
    return this.#outbox.size(sessionId)
  }

  /**
   * Sends a text message to a joined session and resolves with the stored message (its
   * `metadata.seq` and `message_id`) once the server acknowledges it. While disconnected it waits
   * in the outbox. Rejects with a `ChatSocketError` carrying the server's code (`bad_request`,
   * `forbidden`, `conflict` for a closed session, …) or the SDK's (see `ChatSocketError`).
   */
  send(sessionId: string, message: TextMessage): Promise<MessageFrame> {
    return this.#post({ ...message, message_type: 'text', chat_session_id: sessionId })
  }

  /** Sends a file message (the file already uploaded to `file_url`), as `send` does. */
  sendFile(sessionId: string, file: FileMessage): Promise<MessageFrame> {
    return this.#post({ ...file, message_type: 'file', chat_session_id: sessionId })
  }

  /**
   * Call on every keystroke: the others see "typing" (`typing: "true"` at most once per throttle
   * window) until `stopTyping` or a few seconds without a keystroke. Dropped while disconnected.
   */
  typing(sessionId: string): void {
    if (this.#sessions.has(sessionId)) this.#typing.keystroke(sessionId)
  }

  /** Ends "typing" at once (e.g. on send), if it was announced. */
  stopTyping(sessionId: string): void {
    this.#typing.stop(sessionId)
  }

  /** Leaves every session and closes the sockets; pending sends are rejected (`cancelled`). */
  close(): void {
    this.#isClosed = true
    for (const sessionId of [...this.#sessions.keys()]) this.leave(sessionId)
    this.#multiplexed?.close()
    this.#multiplexed = undefined
  }

  async #start(session: JoinedSession, from: SessionPosition | undefined): Promise<void> {
    const position = from ?? (await this.#currentPosition(session))
    if (position === undefined || this.#sessions.get(session.id) !== session) return
    session.feed = new SessionFeed({
      sessionId: session.id,
      rest: this.rest,
      lastSeq: position.lastSeq,
      lastMessageId: position.lastMessageId ?? null,
      onMessage: (frame, isNew) => {
        if (isNew) this.#events.emit('message', frame)
        this.#outbox.acknowledge(frame)
      },
      onError: (error) => this.#events.emit('error', asChatError(error, session.id)),
      retry: this.#backoff,
    })
    if (this.#form === 'per-session') {
      session.socket = this.#perSessionSocket(session)
      session.socket.connect()
    } else {
      const socket = this.#multiplexedSocket()
      socket.connect()
      if (socket.isAccepted) this.#subscribe(session)
    }
  }

  /** The session's newest `seq`, retried while the server cannot be reached. */
  async #currentPosition(session: JoinedSession): Promise<SessionPosition | undefined> {
    for (;;) {
      try {
        return { lastSeq: (await this.rest.getSession(session.id)).last_seq }
      } catch (error) {
        if (this.#sessions.get(session.id) !== session) return undefined
        const failure = asChatError(error, session.id)
        if (!(failure instanceof ChatApiError && failure.isTransient)) {
          session.settleJoin.reject(failure)
          this.#drop(session, new ChatSocketError(failure.code, failure.detail, session.id))
          return undefined
        }
        this.#events.emit('error', failure)
        await new Promise((resolve) => setTimeout(resolve, session.retry.next()))
      }
    }
  }

  #perSessionSocket(session: JoinedSession): ChatSocket {
    const socket = this.#socket(() =>
      this.rest.socketUrl(`/api/v1/chat/ws/${encodeURIComponent(session.id)}`, {
        token: this.rest.token,
        last_seq: session.feed?.lastSeq,
      }),
    )
    socket.on('accepted', () => this.#live(session))
    socket.on('lost', () => this.#offline(session))
    socket.on('refused', ({ reason }) =>
      this.#refuse(session, { chatSessionId: session.id, closeCode: CloseCode.REFUSED, reason }),
    )
    socket.on('state', (state) => this.#events.emit('state', { chatSessionId: session.id, state }))
    return socket
  }

  #multiplexedSocket(): ChatSocket {
    if (this.#multiplexed !== undefined) return this.#multiplexed
    const socket = this.#socket(() =>
      this.rest.socketUrl('/api/v1/chat/ws', { token: this.rest.token }),
    )
    socket.on('accepted', () => {
      for (const session of this.#sessions.values()) {
        if (session.feed !== undefined && !session.isSubscribing) this.#subscribe(session)
      }
    })
    socket.on('lost', () => {
      for (const session of this.#sessions.values()) this.#offline(session)
    })
    socket.on('refused', ({ reason }) => {
      this.#multiplexed = undefined
      const refusal = { chatSessionId: null, closeCode: CloseCode.REFUSED, reason }
      for (const session of [...this.#sessions.values()]) this.#refuse(session, refusal, false)
      this.#events.emit('refused', refusal)
    })
    socket.on('state', (state) => this.#events.emit('state', { chatSessionId: null, state }))
    this.#multiplexed = socket
    return socket
  }

  #socket(url: () => string): ChatSocket {
    const socket = new ChatSocket({
      WebSocket: this.#WebSocket,
      url,
      backoff: new Backoff(this.#backoff),
      pingIntervalMs: this.#pingIntervalMs,
    })
    socket.on('frame', (frame) => this.#onFrame(frame))
    return socket
  }

  #subscribe(session: JoinedSession): void {
    clearTimeout(session.retryTimer)
    session.isSubscribing = true
    this.#multiplexed?.send({
      message_type: 'subscribe',
      chat_session_id: session.id,
      last_seq: session.feed?.lastSeq ?? null,
    })
  }

  #live(session: JoinedSession): void {
    session.isLive = true
    session.isSubscribing = false
    session.retry.reset()
    session.settleJoin.resolve()
    this.#outbox.flush(session.id)
  }

  #offline(session: JoinedSession): void {
    session.isLive = false
    session.isSubscribing = false
    clearTimeout(session.retryTimer)
    this.#outbox.disconnected(session.id)
    this.#typing.forget(session.id)
  }

  #onFrame(frame: ServerFrame): void {
    switch (frame.message_type) {
      case 'message':
        return this.#sessions.get(frame.chat_session_id)?.feed?.push(frame)
      // A multiplexed socket may still carry a session the app just left.
      case 'typing_indicator':
        if (this.#sessions.has(frame.chat_session_id)) this.#events.emit('typing', frame)
        return
      case 'user_joined':
      case 'user_left':
        if (this.#sessions.has(frame.chat_session_id)) this.#events.emit('presence', frame)
        return
      case 'read_receipt':
        if (this.#sessions.has(frame.chat_session_id)) this.#events.emit('read_receipt', frame)
        return
      case 'session_closed':
        return this.#sessionClosed(frame)
      case 'subscribed': {
        const session = this.#sessions.get(frame.chat_session_id)
        if (session?.isSubscribing === true) this.#live(session)
        return
      }
      case 'error':
        return this.#onError(frame)
      case 'unsubscribed':
      case 'pong':
        return
    }
  }

  #sessionClosed(frame: SessionClosedFrame): void {
    const session = this.#sessions.get(frame.chat_session_id)
    if (session === undefined) return
    this.#sessions.delete(session.id)
    session.isLive = false
    session.socket?.endAfterClose()
    const finish = () => {
      session.feed?.stop()
      this.#typing.forget(session.id)
      this.#events.emit('session_closed', frame)
      this.#outbox.rejectAll(
        session.id,
        (id) => new ChatSocketError('conflict', 'The session is closed.', session.id, id),
      )
    }
    // Messages that arrived before the close are delivered (and acknowledge sends) first.
    if (session.feed === undefined) finish()
    else session.feed.after(finish)
  }

  #onError(frame: ErrorFrame): void {
    const error = ChatSocketError.fromFrame(frame)
    if (this.#outbox.fail(error)) return
    const session =
      frame.chat_session_id === null ? undefined : this.#sessions.get(frame.chat_session_id)
    if (session?.isSubscribing === true && error.clientMessageId === null) {
      return this.#subscriptionFailed(session, error)
    }
    this.#events.emit('error', error)
  }

  /** The multiplexed socket answered `subscribe` with an error instead of `subscribed`. */
  #subscriptionFailed(session: JoinedSession, error: ChatSocketError): void {
    session.isSubscribing = false
    if (!PASSING_CODES.has(error.code)) {
      return this.#refuse(session, {
        chatSessionId: session.id,
        closeCode: null,
        reason: error.detail,
      })
    }
    this.#events.emit('error', error)
    session.retryTimer = setTimeout(() => {
      if (this.#multiplexed?.isAccepted === true && !session.isLive) this.#subscribe(session)
    }, session.retry.next())
  }

  #refuse(session: JoinedSession, refusal: Refusal, announce = true): void {
    this.#drop(session, new ChatSocketError('refused', refusal.reason, session.id))
    if (announce) this.#events.emit('refused', refusal)
  }

  /** Forgets a session; its join (if still pending) and its sends fail with `error`'s code. */
  #drop(session: JoinedSession, error: ChatSocketError): void {
    if (this.#sessions.get(session.id) === session) this.#sessions.delete(session.id)
    session.isLive = false
    clearTimeout(session.retryTimer)
    session.feed?.stop()
    session.socket?.close()
    this.#typing.forget(session.id)
    session.settleJoin.reject(error)
    this.#outbox.rejectAll(
      session.id,
      (id) => new ChatSocketError(error.code, error.detail, session.id, id),
    )
  }

  #post(frame: Omit<OutgoingFrame, 'client_message_id'>): Promise<MessageFrame> {
    const sessionId = frame.chat_session_id
    const outgoing: OutgoingFrame = { ...frame, client_message_id: this.#newId() }
    if (!this.#sessions.has(sessionId)) {
      return Promise.reject(
        new ChatSocketError('not_joined', 'Join the session before sending to it.', sessionId),
      )
    }
    if (new TextEncoder().encode(JSON.stringify(outgoing)).byteLength > MAX_FRAME_BYTES) {
      return Promise.reject(
        new ChatSocketError(
          'payload_too_large',
          'The message is over the 64 KiB frame limit.',
          sessionId,
          outgoing.client_message_id,
        ),
      )
    }
    return this.#outbox.add(outgoing)
  }

  #transmit(sessionId: string, frame: ClientFrame): boolean {
    const session = this.#sessions.get(sessionId)
    if (session?.isLive !== true) return false
    return (session.socket ?? this.#multiplexed)?.send(frame) ?? false
  }
}

function closedError(sessionId: string, detail = 'The client was closed.'): ChatSocketError {
  return new ChatSocketError('cancelled', detail, sessionId)
}

function asChatError(error: unknown, sessionId: string): ChatSocketError | ChatApiError {
  if (error instanceof ChatApiError || error instanceof ChatSocketError) return error
  return new ChatSocketError('internal', String(error), sessionId)
}
