import { CloseCode } from '../src/realtime/close-codes.js'
import type { ClientFrame, ServerFrame } from '../src/realtime/protocol.js'
import type { Backoff } from './backoff.js'
import { Emitter } from './emitter.js'

/**
 * The part of the WebSocket API the SDK uses, met by the browser's and React Native's `WebSocket`
 * and by the `ws` package's (`import WebSocket from 'ws'`).
 */
export interface WebSocketLike {
  readonly readyState: number
  send(data: string): void
  close(code?: number, reason?: string): void
  onopen: EventHandler<unknown> | null
  onmessage: EventHandler<{ data: unknown }> | null
  onclose: EventHandler<{ code: number; reason: string }> | null
  onerror: EventHandler<unknown> | null
}

export type WebSocketConstructor = new (url: string) => WebSocketLike

/**
 * Declared as a method so that implementations whose events carry more fields than the SDK reads
 * (the DOM's `MessageEvent`, `ws`'s) still fit: method parameters are compared both ways.
 */
type EventHandler<E> = { handle(event: E): void }['handle']

const OPEN = 1
/** Ours to drop a silent connection: browsers let a client close only with 1000 or 3000–4999. */
const NO_ANSWER = 4000

/**
 * `connecting`: the first attempt is under way. `open`: the server accepted the socket.
 * `reconnecting`: the connection was lost and the next attempt is waiting or under way.
 * `closed`: for good (closed by the app, refused with 1008, or the session ended).
 */
export type SocketState = 'connecting' | 'open' | 'reconnecting' | 'closed'

export interface ChatSocketEvents {
  /** Every frame the server sends, parsed, in arrival order. */
  frame: ServerFrame
  /**
   * The server accepted this connection: its `pong` to the ping the socket sends first came back.
   * Frames are handled in order, so on the per-session socket the `last_seq` replay is over by now.
   */
  accepted: undefined
  /** The connection was lost; a new attempt follows after a backoff. */
  lost: { code: number; reason: string }
  /** Closed with 1008 (bad or expired token, not a participant, …): not retried. */
  refused: { reason: string }
  state: SocketState
}

export interface ChatSocketOptions {
  WebSocket: WebSocketConstructor
  /** The URL of the next attempt, asked before each one so its token and `last_seq` are current. */
  url: () => string
  backoff: Backoff
  /**
   * How often to ping the server, in ms. A connection that has not answered by the next ping is
   * taken for dead and replaced (a dead network often closes nothing). 0 turns this off.
   */
  pingIntervalMs: number
}

/**
 * One WebSocket to the chat server that reconnects by itself, with exponential backoff and full
 * jitter, after a server fault or restart (1011), an abnormal close (1006, e.g. the server was
 * killed) and network errors. It does not reconnect after a refusal (1008), after `close()`, nor
 * once `endAfterClose()` said the server is about to close it for good (the session closed).
 * Resuming is the owner's job: `url` and the `accepted` event are where it happens.
 */
export class ChatSocket {
  readonly #options: ChatSocketOptions
  readonly #events = new Emitter<ChatSocketEvents>()
  #ws: WebSocketLike | undefined
  #state: SocketState | undefined
  #isAccepted = false
  #isEnding = false
  #heardSincePing = true
  #retryTimer: ReturnType<typeof setTimeout> | undefined
  #pingTimer: ReturnType<typeof setInterval> | undefined

  constructor(options: ChatSocketOptions) {
    this.#options = options
  }

  on<K extends keyof ChatSocketEvents>(
    event: K,
    listener: (payload: ChatSocketEvents[K]) => void,
  ): () => void {
    return this.#events.on(event, listener)
  }

  get state(): SocketState | undefined {
    return this.#state
  }

  /** The server has accepted the current connection and it is still open. */
  get isAccepted(): boolean {
    return this.#isAccepted
  }

  /** Starts connecting; does nothing if already started. */
  connect(): void {
    if (this.#state !== undefined) return
    this.#setState('connecting')
    this.#open()
  }

  /** Sends a frame if the connection is open; returns whether it was sent. */
  send(frame: ClientFrame): boolean {
    const ws = this.#ws
    if (ws === undefined || ws.readyState !== OPEN) return false
    ws.send(JSON.stringify(frame))
    return true
  }

  /** The server will close this socket for good next (its session closed): do not reconnect. */
  endAfterClose(): void {
    this.#isEnding = true
  }

  /** Closes for good (1000), stopping any reconnect. */
  close(): void {
    this.#isEnding = true
    clearTimeout(this.#retryTimer)
    const ws = this.#detach()
    ws?.close(CloseCode.SESSION_CLOSED, 'client closed')
    this.#setState('closed')
    this.#events.removeAll()
  }

  #open(): void {
    let ws: WebSocketLike
    try {
      ws = new this.#options.WebSocket(this.#options.url())
    } catch {
      return this.#lost(1006, 'could not open a socket')
    }
    this.#ws = ws
    this.#isAccepted = false
    ws.onopen = () => {
      if (this.#ws !== ws) return
      // The answer proves the server accepted the socket: refusals come after the upgrade.
      this.send({ message_type: 'ping' })
      this.#startPinging()
    }
    ws.onmessage = (event) => {
      if (this.#ws !== ws) return
      this.#heardSincePing = true
      const frame = parseFrame(event.data)
      if (frame === undefined) return
      if (frame.message_type === 'pong' && !this.#isAccepted) {
        this.#isAccepted = true
        this.#options.backoff.reset()
        this.#setState('open')
        this.#events.emit('accepted', undefined)
      }
      this.#events.emit('frame', frame)
    }
    ws.onclose = (event) => {
      if (this.#ws !== ws) return
      this.#detach()
      this.#closed(event.code, event.reason)
    }
    // A failed connection also closes (1006); that is where it is handled.
    ws.onerror = () => undefined
  }

  #closed(code: number, reason: string): void {
    if (code === CloseCode.REFUSED) {
      this.#setState('closed')
      this.#events.emit('refused', { reason })
    } else if (this.#isEnding) {
      this.#setState('closed')
    } else {
      this.#lost(code, reason)
    }
  }

  #lost(code: number, reason: string): void {
    this.#setState('reconnecting')
    this.#events.emit('lost', { code, reason })
    if (this.#state !== 'reconnecting') return
    clearTimeout(this.#retryTimer)
    this.#retryTimer = setTimeout(() => this.#open(), this.#options.backoff.next())
  }

  /** Forgets the current WebSocket: nothing it does later reaches this socket. */
  #detach(): WebSocketLike | undefined {
    const ws = this.#ws
    this.#ws = undefined
    this.#isAccepted = false
    clearInterval(this.#pingTimer)
    if (ws !== undefined) {
      ws.onopen = ws.onmessage = ws.onclose = null
    }
    return ws
  }

  #startPinging(): void {
    const interval = this.#options.pingIntervalMs
    if (interval <= 0) return
    this.#heardSincePing = true
    this.#pingTimer = setInterval(() => {
      if (this.#heardSincePing) {
        this.#heardSincePing = false
        this.send({ message_type: 'ping' })
        return
      }
      const ws = this.#detach()
      ws?.close(NO_ANSWER, 'no answer to ping')
      this.#lost(1006, 'no answer to ping')
    }, interval)
  }

  #setState(state: SocketState): void {
    if (this.#state === state || this.#state === 'closed') return
    this.#state = state
    this.#events.emit('state', state)
  }
}

/** The server sends text frames; binary ones (an older server) are read as UTF-8 all the same. */
function parseFrame(data: unknown): ServerFrame | undefined {
  const text =
    typeof data === 'string'
      ? data
      : data instanceof ArrayBuffer
        ? new TextDecoder().decode(data)
        : ArrayBuffer.isView(data)
          ? new TextDecoder().decode(new Uint8Array(data.buffer, data.byteOffset, data.byteLength))
          : undefined
  if (text === undefined) return undefined
  try {
    const frame = JSON.parse(text) as unknown
    return typeof frame === 'object' && frame !== null && 'message_type' in frame
      ? (frame as ServerFrame)
      : undefined
  } catch {
    return undefined
  }
}
