import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import type { TSchema } from '@sinclair/typebox'
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler'
import { FormatRegistry } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import { WebSocketServer, type RawData, type WebSocket } from 'ws'
import type { AuthService } from '../auth/auth.service.js'
import { requireParticipant, type Caller } from '../chat/chat-access.js'
import type { MessagesService } from '../chat/messages.service.js'
import type { Config } from '../config.js'
import { AppError } from '../errors.js'
import { bearerToken } from '../http/authenticate.js'
import type { Metrics } from '../metrics.js'
import { isStoreUnavailable } from '../store/store-errors.js'
import type { Store, UserRecord } from '../store/store.js'
import { CloseCode, CloseReason } from './close-codes.js'
import { encode, type Hub, type Subscriber } from './hub.js'
import {
  CLIENT_FRAMES,
  errorFrame,
  eventFrame,
  type ClientFrameType,
  type ReadFrame,
  type SendFrame,
  type ServerFrame,
  type SubscribeFrame,
  type TypingFrame,
} from './protocol.js'

export const MAX_FRAME_BYTES = 64 * 1024
/** A reader this far behind is dropped (1011) and resumes with `last_seq`, rather than hoarding memory. */
const MAX_BUFFERED_BYTES = 8 * 1024 * 1024
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const SETTLED = Promise.resolve()
const SOCKET_PATH = /^\/api\/v1\/chat\/ws(?:\/([^/?]+))?\/?$/

export interface GatewayDeps {
  config: Config
  auth: AuthService
  messages: MessagesService
  store: Store
  hub: Hub
  metrics: Metrics
  logger: Logger
}

/**
 * The WebSocket edge: upgrades, authentication, frames in and out, close codes. Both socket forms
 * share one `Connection`: the per-session socket (`/api/v1/chat/ws/{id}`) is a multiplexed socket
 * that joined one session at connect time and closes when that session closes.
 *
 * Refusals happen after the upgrade, as a 1008 close with a reason, because browsers cannot read
 * an HTTP refusal. Frames that arrive while the server is still checking are kept and handled in
 * order once the socket is accepted.
 */
export class Gateway {
  readonly #deps: GatewayDeps
  readonly #wss = new WebSocketServer({
    noServer: true,
    maxPayload: MAX_FRAME_BYTES,
    perMessageDeflate: false,
  })
  readonly #connections = new Set<Connection>()
  readonly #heartbeat: NodeJS.Timeout
  readonly #expirySweep: NodeJS.Timeout
  readonly #checks = new Map<string, TypeCheck<TSchema>>()
  #isClosing = false

  constructor(deps: GatewayDeps) {
    this.#deps = deps
    // TypeBox checks only formats it has been taught; REST validation (ajv) knows these already.
    if (!FormatRegistry.Has('uuid')) FormatRegistry.Set('uuid', (value) => UUID.test(value))
    for (const [type, schema] of Object.entries(CLIENT_FRAMES))
      this.#checks.set(type, TypeCompiler.Compile(schema))
    this.#heartbeat = setInterval(() => this.#beat(), deps.config.realtime.pingIntervalMs)
    this.#heartbeat.unref()
    // One sweep a second closes sockets whose token expired: no timer per socket.
    this.#expirySweep = setInterval(() => this.#closeExpired(), 1_000)
    this.#expirySweep.unref()
  }

  /** Hooks the gateway into the app's HTTP server and its shutdown. */
  install(app: FastifyInstance): void {
    app.server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) =>
      this.#upgrade(request, socket, head),
    )
    app.addHook('preClose', () => this.close())
    if (this.#deps.config.wsAllowedOrigins.length === 0) {
      this.#deps.logger.info(
        'WS_ALLOWED_ORIGINS is unset: sockets are accepted from any origin (tokens, not cookies, authenticate)',
      )
    }
  }

  /** Closes every socket with 1011 "server restarting" (clients reconnect elsewhere) and waits. */
  async close(): Promise<void> {
    if (this.#isClosing) return
    this.#isClosing = true
    clearInterval(this.#heartbeat)
    clearInterval(this.#expirySweep)
    const closed = [...this.#connections].map((connection) => connection.closed)
    for (const connection of this.#connections)
      connection.close(CloseCode.SERVER_FAULT, CloseReason.serverRestarting)
    const grace = new Promise((resolve) =>
      setTimeout(resolve, this.#deps.config.realtime.shutdownGraceMs).unref(),
    )
    await Promise.race([Promise.all(closed), grace])
    for (const connection of this.#connections) connection.terminate()
    this.#wss.close()
  }

  #upgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = URL.canParse(request.url ?? '/', 'http://localhost')
      ? new URL(request.url ?? '/', 'http://localhost')
      : undefined
    const match = url && SOCKET_PATH.exec(url.pathname)
    if (url === undefined || !match) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n')
      return
    }
    this.#wss.handleUpgrade(request, socket, head, (ws) => {
      const sessionId = match[1] === undefined ? undefined : decodePathSegment(match[1])
      const connection = new Connection(ws, this.#deps, this.#owner, sessionId === undefined)
      this.#connections.add(connection)
      void this.#open(connection, request, url, sessionId)
    })
  }

  /** The gateway as its connections see it: one object, shared, instead of closures per socket. */
  readonly #owner: ConnectionOwner = {
    handleFrame: (connection, data) => this.#onFrame(connection, data),
    forget: (connection) => this.#connections.delete(connection),
  }

  async #open(
    connection: Connection,
    request: IncomingMessage,
    url: URL,
    sessionId: string | undefined,
  ): Promise<void> {
    const { config, auth } = this.#deps
    try {
      if (this.#isClosing)
        return connection.close(CloseCode.SERVER_FAULT, CloseReason.serverRestarting)
      const origin = request.headers.origin
      if (
        config.wsAllowedOrigins.length > 0 &&
        origin !== undefined &&
        !config.wsAllowedOrigins.includes(origin)
      ) {
        return connection.close(CloseCode.REFUSED, CloseReason.originNotAllowed)
      }
      const token = url.searchParams.get('token') ?? bearerToken(request.headers.authorization)
      if (token === null || token === undefined || token === '') {
        return connection.close(CloseCode.REFUSED, CloseReason.invalidToken)
      }
      let identity: { user: UserRecord; expiresAtMs: number }
      try {
        identity = await auth.authenticate(token)
      } catch (error) {
        if (error instanceof AppError && error.code === 'unauthenticated') {
          const expired = error.detail.includes('expired')
          return connection.close(
            CloseCode.REFUSED,
            expired ? CloseReason.tokenExpired : CloseReason.invalidToken,
          )
        }
        throw error
      }
      if (!(await connection.authenticate(identity.user, identity.expiresAtMs))) {
        return connection.close(CloseCode.REFUSED, CloseReason.tooManySockets)
      }

      if (sessionId !== undefined) {
        const refusal = await this.#join(
          connection,
          sessionId,
          parseLastSeq(url.searchParams.get('last_seq')),
        )
        if (refusal !== undefined) return connection.close(CloseCode.REFUSED, refusal)
      }
      connection.accept()
    } catch (error) {
      this.#deps.logger.warn({ err: error }, 'socket could not be opened')
      connection.close(CloseCode.SERVER_FAULT, CloseReason.serverFault)
    }
  }

  /** Joins a session; returns the refusal reason for the access errors a client can cause. */
  async #join(
    connection: Connection,
    sessionId: string,
    lastSeq: number | undefined,
  ): Promise<string | undefined> {
    try {
      if (!UUID.test(sessionId)) throw new AppError('not_found', 'No chat session has this id.')
      const { session } = await requireParticipant(this.#deps.store, connection.user, sessionId)
      if (session.status === 'closed') throw new AppError('conflict', 'The session is closed.')
      await connection.join(sessionId, lastSeq)
      return undefined
    } catch (error) {
      if (!(error instanceof AppError)) throw error
      if (error.code === 'not_found') return CloseReason.sessionNotFound
      if (error.code === 'forbidden') return CloseReason.notParticipant
      if (error.code === 'conflict') return CloseReason.sessionClosed
      throw error
    }
  }

  async #onFrame(connection: Connection, data: RawData): Promise<void> {
    let frame: unknown
    try {
      frame = JSON.parse(rawText(data))
    } catch {
      return connection.sendError(null, 'bad_request', 'Frames must be JSON.')
    }
    if (typeof frame !== 'object' || frame === null || Array.isArray(frame)) {
      return connection.sendError(
        null,
        'bad_request',
        'A frame is a JSON object with a message_type.',
      )
    }
    const type = (frame as { message_type?: unknown }).message_type
    const clientMessageId = stringField(frame, 'client_message_id')
    const check = typeof type === 'string' ? this.#checks.get(type) : undefined
    if (check === undefined) {
      return connection.sendError(
        stringField(frame, 'chat_session_id'),
        'bad_request',
        `Unknown message_type ${JSON.stringify(type)}; expected one of ${Object.keys(CLIENT_FRAMES).join(', ')}.`,
        clientMessageId,
      )
    }
    if (!check.Check(frame)) {
      const first = check.Errors(frame).First()
      const field = first?.path.replace(/^\//, '') || 'frame'
      return connection.sendError(
        stringField(frame, 'chat_session_id') ?? connection.fixedSessionId ?? null,
        'bad_request',
        `${field}: ${first?.message ?? 'invalid'}.`,
        clientMessageId,
      )
    }
    await this.#handle(
      connection,
      type as ClientFrameType,
      frame as Record<string, unknown>,
      clientMessageId,
    )
  }

  async #handle(
    connection: Connection,
    type: ClientFrameType,
    frame: Record<string, unknown>,
    clientMessageId: string | null,
  ): Promise<void> {
    if (type === 'ping')
      return connection.sendFrame({ message_type: 'pong', timestamp: new Date().toISOString() })
    if (type === 'subscribe' || type === 'unsubscribe') {
      if (!connection.isMultiplexed) {
        return connection.sendError(
          connection.fixedSessionId,
          'bad_request',
          `${type} is for the multiplexed socket at /api/v1/chat/ws.`,
        )
      }
      return type === 'subscribe'
        ? this.#subscribe(connection, frame as SubscribeFrame)
        : this.#unsubscribe(connection, frame.chat_session_id as string)
    }

    const sessionId = connection.fixedSessionId ?? (frame.chat_session_id as string | undefined)
    if (sessionId === undefined || !connection.sessions.has(sessionId)) {
      const detail =
        sessionId === undefined
          ? 'Name the chat_session_id of this frame.'
          : 'Subscribe to this session first.'
      return connection.sendError(sessionId ?? null, 'bad_request', detail, clientMessageId)
    }
    try {
      if (type === 'typing') {
        const { content } = frame as TypingFrame
        this.#deps.hub.setTyping(connection, sessionId, content === true || content === 'true')
      } else if (type === 'read') {
        await this.#deps.messages.markRead(
          connection.user,
          sessionId,
          (frame as ReadFrame).up_to_message_id,
        )
      } else {
        await this.#send(connection, sessionId, frame as SendFrame)
      }
    } catch (error) {
      connection.sendAppError(sessionId, error, clientMessageId)
    }
  }

  async #send(connection: Connection, sessionId: string, frame: SendFrame): Promise<void> {
    const started = performance.now()
    const { message, duplicate } = await this.#deps.messages.post(
      connection.user,
      sessionId,
      frame,
      {
        isKnownParticipant: true,
      },
    )
    connection.sendAccepted()
    // A resend: only the sender hears of it again, and only if this socket already had it.
    if (duplicate) return this.#deps.hub.answerResend(connection, sessionId, message)
    this.#deps.metrics.messagesStored.labels('socket').inc()
    this.#deps.metrics.messageStoreSeconds.observe((performance.now() - started) / 1000)
  }

  async #subscribe(connection: Connection, frame: SubscribeFrame): Promise<void> {
    const sessionId = frame.chat_session_id
    try {
      if (!UUID.test(sessionId)) throw new AppError('not_found', 'No chat session has this id.')
      if (!connection.sessions.has(sessionId)) {
        const { session } = await requireParticipant(this.#deps.store, connection.user, sessionId)
        if (session.status === 'closed') throw new AppError('conflict', 'The session is closed.')
      }
      // Confirmed after the replay and before anything live, presence included.
      await connection.join(sessionId, frame.last_seq ?? undefined, (lastSeq) =>
        connection.sendFrame(
          eventFrame('subscribed', sessionId, connection.user.id, { last_seq: lastSeq }),
        ),
      )
    } catch (error) {
      connection.sendAppError(sessionId, error, null)
    }
  }

  async #unsubscribe(connection: Connection, sessionId: string): Promise<void> {
    await connection.leave(sessionId)
    connection.sendFrame(eventFrame('unsubscribed', sessionId, connection.user.id, {}))
  }

  #closeExpired(): void {
    const now = Date.now()
    for (const connection of this.#connections) {
      if (connection.expiresAtMs <= now)
        connection.close(CloseCode.REFUSED, CloseReason.tokenExpired)
    }
  }

  #beat(): void {
    for (const connection of this.#connections) connection.heartbeat()
  }
}

/**
 * One socket. Frames are handled one at a time, in arrival order, so a sender's messages are
 * stored in the order they were sent. Until `accept`, frames are only kept.
 */
class Connection implements Subscriber {
  readonly sessions = new Set<string>()
  readonly #ws: WebSocket
  readonly #deps: GatewayDeps
  readonly #owner: ConnectionOwner
  /** Frames that arrived before `accept`; made only if some do. */
  #held: RawData[] | undefined
  /** Only what the socket needs of its user: a full record per socket adds up at 50,000 sockets. */
  #user: Caller | undefined
  #isAccepted = false
  #queue: Promise<void> = SETTLED
  #isAlive = true
  #refusedInARow = 0
  /** When the token expires; the gateway's sweep closes the socket then. */
  expiresAtMs = Infinity
  #isRegistered = false
  #isClosed = false
  /** Made only when someone waits for the close (a shutdown). */
  #closed: { promise: Promise<void>; resolve(): void } | undefined
  #isCleanedUp = false

  constructor(
    ws: WebSocket,
    deps: GatewayDeps,
    owner: ConnectionOwner,
    readonly isMultiplexed: boolean,
  ) {
    this.#ws = ws
    this.#deps = deps
    this.#owner = owner
    // Shared listener functions that find the connection on the socket: no closures per socket.
    ;(ws as TaggedSocket)[CONNECTION] = this
    ws.on('message', onSocketMessage)
    ws.on('pong', onSocketPong)
    ws.once('close', onSocketClose)
    // ws closes the socket itself on protocol errors (1009 for an oversized frame); nothing to add.
    ws.on('error', ignore)
  }

  /** Resolves once the socket has closed and left everything. */
  get closed(): Promise<void> {
    if (this.#isCleanedUp) return SETTLED
    if (this.#closed === undefined) {
      let resolve!: () => void
      const promise = new Promise<void>((r) => (resolve = r))
      this.#closed = { promise, resolve }
    }
    return this.#closed.promise
  }

  received(data: RawData): void {
    this.#isAlive = true
    if (this.#isAccepted) this.#enqueue(data)
    else (this.#held ??= []).push(data)
  }

  markAlive(): void {
    this.#isAlive = true
  }

  async closedWith(code: number): Promise<void> {
    this.#isClosed = true
    this.#deps.metrics.closes.labels(String(code)).inc()
    await this.#cleanUp()
    this.#isCleanedUp = true
    this.#owner.forget(this)
    this.#closed?.resolve()
  }

  get user(): Caller {
    if (this.#user === undefined) throw new Error('socket used before authentication')
    return this.#user
  }

  get userId(): string {
    return this.user.id
  }

  /** The session of a per-session socket. */
  fixedSessionId: string | undefined

  /** Registers the socket as `user`'s; false if the user already has as many as allowed. */
  async authenticate(user: UserRecord, expiresAtMs: number): Promise<boolean> {
    this.#user = { id: user.id, role: user.role }
    const maxSockets = this.#deps.config.limits.maxSocketsPerUser
    if (!(await this.#deps.hub.socketOpened(this, maxSockets))) return false
    this.#isRegistered = true
    this.expiresAtMs = expiresAtMs
    // The client may have gone while we waited; the clean-up has run without us.
    if (this.#isClosed) this.#deps.hub.socketClosed(this)
    return true
  }

  async join(
    sessionId: string,
    lastSeq: number | undefined,
    onLive?: (lastSeq: number) => void,
  ): Promise<void> {
    if (!this.isMultiplexed) this.fixedSessionId = sessionId
    this.sessions.add(sessionId)
    try {
      await this.#deps.hub.join(this, sessionId, { lastSeq, onLive })
      if (this.#isClosed) await this.leave(sessionId)
    } catch (error) {
      this.sessions.delete(sessionId)
      throw error
    }
  }

  async leave(sessionId: string): Promise<void> {
    if (this.sessions.delete(sessionId)) await this.#deps.hub.leave(this, sessionId)
  }

  /** Starts handling frames, the held ones first. */
  accept(): void {
    if (this.#ws.readyState !== this.#ws.OPEN) return
    this.#isAccepted = true
    const held = this.#held ?? []
    this.#held = undefined
    for (const data of held) this.#enqueue(data)
  }

  send(data: Buffer): void {
    if (this.#ws.readyState !== this.#ws.OPEN) return
    if (this.#ws.bufferedAmount > MAX_BUFFERED_BYTES) {
      return this.close(CloseCode.SERVER_FAULT, 'too far behind; resume with last_seq')
    }
    // Text frames: browsers hand binary ones to `onmessage` as a Blob, which the guide's
    // `JSON.parse(event.data)` cannot read.
    this.#ws.send(data, { binary: false })
  }

  sendFrame(frame: ServerFrame): void {
    this.send(encode(frame))
  }

  sendError(
    sessionId: string | null | undefined,
    code: string,
    detail: string,
    clientMessageId: string | null = null,
  ): void {
    this.#deps.metrics.errors.labels(code).inc()
    this.sendFrame(
      errorFrame(sessionId ?? null, this.#user?.id ?? null, { code, detail }, clientMessageId),
    )
  }

  /** An error from a service as an `error` frame; past the flooding limit, the socket closes. */
  sendAppError(sessionId: string, error: unknown, clientMessageId: string | null): void {
    if (error instanceof AppError) {
      this.sendError(sessionId, error.code, error.detail, clientMessageId)
      if (
        error.code === 'rate_limited' &&
        ++this.#refusedInARow >= this.#deps.config.limits.floodCloseAfter
      ) {
        this.close(CloseCode.REFUSED, CloseReason.flooding)
      }
      return
    }
    if (isStoreUnavailable(error)) {
      return this.sendError(
        sessionId,
        'unavailable',
        'The database is not reachable right now; try again shortly.',
        clientMessageId,
      )
    }
    this.#deps.logger.error({ err: error }, 'frame handling failed')
    this.sendError(sessionId, 'internal', 'Internal error.', clientMessageId)
  }

  sendAccepted(): void {
    this.#refusedInARow = 0
  }

  sessionClosed(sessionId: string): void {
    if (this.isMultiplexed) void this.leave(sessionId)
    else this.close(CloseCode.SESSION_CLOSED, CloseReason.sessionClosed)
  }

  heartbeat(): void {
    if (!this.#isAlive) return this.terminate()
    this.#isAlive = false
    if (this.#ws.readyState === this.#ws.OPEN) this.#ws.ping()
  }

  close(code: number, reason: string): void {
    if (this.#ws.readyState === this.#ws.CONNECTING || this.#ws.readyState === this.#ws.OPEN) {
      this.#ws.close(code, reason)
    }
  }

  terminate(): void {
    this.#ws.terminate()
  }

  #enqueue(data: RawData): void {
    this.#queue = this.#queue.then(() =>
      this.#owner.handleFrame(this, data).catch((error: unknown) => {
        this.#deps.logger.error({ err: error }, 'frame handling failed')
      }),
    )
  }

  async #cleanUp(): Promise<void> {
    this.#isAccepted = false
    for (const sessionId of [...this.sessions]) {
      await this.leave(sessionId).catch((error: unknown) =>
        this.#deps.logger.warn({ err: error }, 'leaving a session failed'),
      )
    }
    if (this.#isRegistered) this.#deps.hub.socketClosed(this)
  }
}

/** What a connection needs from its gateway. */
interface ConnectionOwner {
  handleFrame(connection: Connection, data: RawData): Promise<void>
  forget(connection: Connection): void
}

const CONNECTION = Symbol('connection')
type TaggedSocket = WebSocket & { [CONNECTION]: Connection }

function onSocketMessage(this: WebSocket, data: RawData): void {
  ;(this as TaggedSocket)[CONNECTION].received(data)
}

function onSocketPong(this: WebSocket): void {
  ;(this as TaggedSocket)[CONNECTION].markAlive()
}

function onSocketClose(this: WebSocket, code: number): void {
  void (this as TaggedSocket)[CONNECTION].closedWith(code)
}

function ignore(): void {}

/** A path segment as sent; a malformed escape stays as it is (and names no session). */
function decodePathSegment(segment: string): string {
  try {
    return decodeURIComponent(segment)
  } catch {
    return segment
  }
}

function rawText(data: RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8')
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8')
  return Buffer.from(data).toString('utf8')
}

function stringField(frame: object, field: string): string | null {
  const value = (frame as Record<string, unknown>)[field]
  return typeof value === 'string' ? value : null
}

function parseLastSeq(value: string | null): number | undefined {
  if (value === null || !/^\d{1,15}$/.test(value)) return undefined
  return Number(value)
}
