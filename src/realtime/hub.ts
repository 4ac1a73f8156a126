import type { Logger } from 'pino'
import type { ChatEvent, SessionEvent } from '../chat/chat-events.js'
import type { WsStats } from '../chat/chat.schemas.js'
import type { PresenceView } from '../chat/presence.js'
import { AppError } from '../errors.js'
import { iso } from '../http/schemas.js'
import type { Metrics } from '../metrics.js'
import type { MessageRecord, Store } from '../store/store.js'
import type { Bus } from './bus.js'
import { USERS_CHANNEL, sessionChannel } from './bus-event-sink.js'
import { DeliveryMarks } from './delivery-marks.js'
import type { Presence } from './presence.js'
import { eventFrame, messageFrame, type ServerFrame } from './protocol.js'

/** A socket as the hub sees it; the gateway's `Connection` implements it. */
export interface Subscriber {
  readonly userId: string
  /** Writes one encoded frame. */
  send(data: Buffer): void
  /** The session was closed: a per-session socket closes, a multiplexed one just leaves. */
  sessionClosed(sessionId: string): void
}

export interface HubOptions {
  nodeId: string
  bus: Bus
  presence: Presence
  store: Store
  metrics: Metrics
  logger: Logger
  typingTimeoutMs: number
  /** How long an out-of-order message waits for the ones before it before the store is asked. */
  gapWaitMs?: number
}

const REPLAY_PAGE = 500

/**
 * This node's sockets, by session, fed from the bus. Per session a `Room` delivers messages to its
 * sockets in `seq` order: the bus may lose or reorder events, so a room buffers what comes early,
 * reads what is missing from the store, and drops what it has already delivered. A socket that
 * resumes with `last_seq` is replayed from the store while live messages wait for it, so it sees
 * every message once, in order.
 *
 * Presence, typing and read receipts travel the same way, as events on the session's channel; the
 * hub turns each event into one encoded frame and writes it to every socket that may see it.
 */
export class Hub implements PresenceView {
  readonly #options: HubOptions
  readonly #rooms = new Map<string, Room>()
  readonly #users = new Map<string, LocalUser>()
  readonly #marks: DeliveryMarks
  #socketCount = 0
  #usersChannel: Promise<() => Promise<void>> | undefined

  constructor(options: HubOptions) {
    this.#options = options
    this.#marks = new DeliveryMarks(options.store, options.logger)
    options.bus.onReconnect(() => {
      for (const room of this.#rooms.values()) room.catchUp()
    })
    // A dead node's users leave; the node that noticed announces it, once.
    options.presence.onExpired((sessionId, userId, totalUsers) => {
      const event: SessionEvent = {
        type: 'presence.changed',
        sessionId,
        userId,
        present: false,
        totalUsers,
        at: Date.now(),
      }
      options.bus.publish(sessionChannel(sessionId), event).catch((error: unknown) => {
        options.logger.warn({ err: error }, 'could not announce a departed user')
      })
    })
  }

  /**
   * Registers an open socket, unless its user already has `maxSockets` here (then false). The
   * check and the registration happen together, so concurrent connects cannot exceed the cap. The
   * first socket of a user on this node loads the user's block list; later ones wait for it.
   */
  async socketOpened(subscriber: Subscriber, maxSockets: number): Promise<boolean> {
    let user = this.#users.get(subscriber.userId)
    if (user === undefined) {
      const hidden = new Set<string>()
      user = { sockets: new Set(), hidden, ready: this.#loadHidden(subscriber.userId, hidden) }
      this.#users.set(subscriber.userId, user)
    }
    if (user.sockets.size >= maxSockets) return false
    user.sockets.add(subscriber)
    this.#countSockets(+1)
    try {
      await user.ready
    } catch (error) {
      this.socketClosed(subscriber)
      if (this.#users.get(subscriber.userId) === user) this.#users.delete(subscriber.userId)
      throw error
    }
    return true
  }

  async #loadHidden(userId: string, hidden: Set<string>): Promise<void> {
    this.#usersChannel ??= this.#options.bus.subscribe(USERS_CHANNEL, (event) =>
      this.#onUserEvent(event),
    )
    await this.#usersChannel
    for (const block of await this.#options.store.blocks.listByBlocker(userId)) {
      hidden.add(block.blocked_id)
    }
  }

  socketClosed(subscriber: Subscriber): void {
    const user = this.#users.get(subscriber.userId)
    if (user?.sockets.delete(subscriber) !== true) return
    if (user.sockets.size === 0) this.#users.delete(subscriber.userId)
    this.#countSockets(-1)
  }

  /**
   * Adds the socket to the session. With `lastSeq`, first replays every stored message after it
   * (that the user may see), then goes live with no gap and no duplicate; `onLive` runs between the
   * two with the session's newest `seq`. Throws `conflict` if the session turns out to be closed.
   */
  async join(
    subscriber: Subscriber,
    sessionId: string,
    options: {
      lastSeq?: number | undefined
      onLive?: ((lastSeq: number) => void) | undefined
    } = {},
  ): Promise<void> {
    const { lastSeq, onLive } = options
    const room = this.#room(sessionId)
    const member = new Member(subscriber, this.#hiddenOf(subscriber.userId))
    room.members.set(subscriber, member)
    try {
      await room.ready
      if (room.isClosed) throw new AppError('conflict', 'The session is closed.')
      if (lastSeq === undefined) {
        member.lastSentSeq = room.deliveredSeq
      } else {
        member.lastSentSeq = lastSeq
        await room.replay(member)
      }
      onLive?.(Math.max(room.deliveredSeq, member.lastSentSeq))
      member.goLive()
      await room.userArrived(subscriber.userId)
    } catch (error) {
      await this.leave(subscriber, sessionId)
      throw error
    }
  }

  async leave(subscriber: Subscriber, sessionId: string): Promise<void> {
    const room = this.#rooms.get(sessionId)
    if (room?.members.delete(subscriber) !== true) return
    room.stopTypingOf(subscriber)
    if (![...room.members.keys()].some((other) => other.userId === subscriber.userId)) {
      await room.userDeparted(subscriber.userId)
    }
    if (room.members.size === 0) {
      this.#rooms.delete(sessionId)
      await room.dispose()
    }
  }

  /**
   * The answer to a resend of a stored message (same `client_message_id`): the stored message,
   * marked `duplicate`, if this socket has already been sent it. If not, it is on its way in seq
   * order, and that delivery is the answer; sending it now would break the order.
   */
  answerResend(subscriber: Subscriber, sessionId: string, message: MessageRecord): void {
    const member = this.#rooms.get(sessionId)?.members.get(subscriber)
    if (member !== undefined && member.lastSentSeq < message.seq) return
    const frame = messageFrame(message)
    frame.metadata.duplicate = true
    subscriber.send(encode(frame))
  }

  /** Only changes of typing state are broadcast; a state not refreshed in time ends by itself. */
  setTyping(subscriber: Subscriber, sessionId: string, isTyping: boolean): void {
    this.#rooms.get(sessionId)?.setTyping(subscriber, isTyping)
  }

  onlineUsers(sessionId: string): Promise<ReadonlySet<string>> {
    return this.#options.presence.users(sessionId)
  }

  stats(): Promise<WsStats> {
    return this.#options.presence.stats()
  }

  /** Leaves every room and says goodbye to the cluster. The gateway closes the sockets first. */
  async close(): Promise<void> {
    for (const room of this.#rooms.values()) await room.dispose()
    this.#rooms.clear()
    await this.#marks.close()
    await (
      await this.#usersChannel
    )?.()
    await this.#options.presence.removeNode(this.#options.nodeId)
  }

  #room(sessionId: string): Room {
    let room = this.#rooms.get(sessionId)
    if (room === undefined) {
      room = new Room(sessionId, this.#options, this.#marks)
      this.#rooms.set(sessionId, room)
      room.onClosed = () => {
        for (const subscriber of [...room!.members.keys()]) subscriber.sessionClosed(sessionId)
      }
    }
    return room
  }

  #hiddenOf(userId: string): ReadonlySet<string> {
    return this.#users.get(userId)?.hidden ?? new Set()
  }

  #onUserEvent(event: ChatEvent): void {
    if (event.type !== 'block.changed') return
    const hidden = this.#users.get(event.userId)?.hidden
    if (event.blocked) hidden?.add(event.otherUserId)
    else hidden?.delete(event.otherUserId)
  }

  #countSockets(delta: number): void {
    this.#socketCount += delta
    this.#options.metrics.connections.set(this.#socketCount)
    this.#options.presence.setSocketCount(this.#options.nodeId, this.#socketCount)
  }
}

interface LocalUser {
  sockets: Set<Subscriber>
  /** Settles once the block list below is loaded. */
  ready: Promise<void>
  /** The users this user blocks: their messages and typing never reach this user's sockets. */
  hidden: Set<string>
}

/** One socket in one session: how far it has been sent, and what waits while it replays. */
class Member {
  lastSentSeq = 0
  #waiting: Array<MessageRecord | Buffer> | undefined = []

  constructor(
    readonly subscriber: Subscriber,
    readonly hidden: ReadonlySet<string>,
  ) {}

  /** Sends a message once, in order; held back while the member replays. */
  sendMessage(message: MessageRecord, encoded: () => Buffer): void {
    if (this.#waiting !== undefined) {
      this.#waiting.push(message)
      return
    }
    if (message.seq <= this.lastSentSeq) return
    this.lastSentSeq = message.seq
    if (!this.hidden.has(message.sender_id)) this.subscriber.send(encoded())
  }

  sendFrame(data: Buffer): void {
    if (this.#waiting !== undefined) this.#waiting.push(data)
    else this.subscriber.send(data)
  }

  /** Ends the replay: what arrived meanwhile goes out, in order, skipping what replay covered. */
  goLive(): void {
    const waiting = this.#waiting ?? []
    this.#waiting = undefined
    for (const item of waiting) {
      if (Buffer.isBuffer(item)) this.subscriber.send(item)
      else this.sendMessage(item, () => encode(messageFrame(item)))
    }
  }
}

/** One session on this node: its bus subscription, its sockets, and the order of its messages. */
class Room {
  readonly members = new Map<Subscriber, Member>()
  readonly ready: Promise<void>
  /** Highest `seq` delivered to this room's members, in order. */
  deliveredSeq = 0
  isClosed = false
  onClosed: () => void = () => undefined

  readonly #sessionId: string
  readonly #options: HubOptions
  readonly #marks: DeliveryMarks
  // Rarely used, so made on first use: a node may hold tens of thousands of rooms.
  #early: SessionEvent[] | undefined
  #ahead: Map<number, MessageRecord> | undefined
  #typing: Map<string, { subscriber: Subscriber; timer: NodeJS.Timeout }> | undefined
  readonly #presentUsers = new Set<string>()
  #isReady = false
  #gapTimer: NodeJS.Timeout | undefined
  #isFilling = false
  #unsubscribe: (() => Promise<void>) | undefined
  #disposed = false

  constructor(sessionId: string, options: HubOptions, marks: DeliveryMarks) {
    this.#sessionId = sessionId
    this.#options = options
    this.#marks = marks
    this.ready = this.#start()
    // A failed start is reported to whoever awaits `ready`; this keeps it from being unhandled.
    this.ready.catch(() => undefined)
  }

  async #start(): Promise<void> {
    // Subscribe first, then read where the session stands: nothing committed in between is missed.
    this.#unsubscribe = await this.#options.bus.subscribe(
      sessionChannel(this.#sessionId),
      (event) => {
        // The bus edge: an event this node cannot handle is logged and skipped, never thrown.
        try {
          this.#onEvent(event as SessionEvent)
        } catch (error) {
          this.#options.logger.error({ err: error, event: event.type }, 'a session event failed')
        }
      },
    )
    const session = await this.#options.store.sessions.findById(this.#sessionId)
    if (session === undefined) throw new AppError('not_found', 'No chat session has this id.')
    this.deliveredSeq = session.last_seq
    this.isClosed = session.status === 'closed'
    this.#isReady = true
    const early = this.#early ?? []
    this.#early = undefined
    for (const event of early) this.#onEvent(event)
  }

  /** Sends `member` every stored message after its `lastSentSeq`. */
  replay(member: Member): Promise<void> {
    return this.#readStored(
      () => member.lastSentSeq,
      (message) => {
        member.lastSentSeq = message.seq
        if (!member.hidden.has(message.sender_id)) {
          member.subscriber.send(encode(messageFrame(message)))
        }
      },
    )
  }

  /** Visits every stored message after `from()`, page by page; `visit` moves what `from` reads. */
  async #readStored(from: () => number, visit: (message: MessageRecord) => void): Promise<void> {
    for (;;) {
      const page = await this.#options.store.messages.history({
        sessionId: this.#sessionId,
        limit: REPLAY_PAGE,
        hiddenSenders: [],
        position: { afterSeq: from() },
      })
      for (const message of page) visit(message)
      if (page.length < REPLAY_PAGE) return
    }
  }

  /** After a bus outage: deliver whatever was committed meanwhile. */
  catchUp(): void {
    if (this.#isReady) void this.#fillGap()
  }

  async userArrived(userId: string): Promise<void> {
    if (this.#presentUsers.has(userId)) return
    this.#presentUsers.add(userId)
    const change = await this.#options.presence.connect(
      this.#options.nodeId,
      this.#sessionId,
      userId,
    )
    if (change.changed) this.#publishPresence(userId, true, change.totalUsers)
  }

  async userDeparted(userId: string): Promise<void> {
    if (!this.#presentUsers.delete(userId)) return
    const change = await this.#options.presence.disconnect(
      this.#options.nodeId,
      this.#sessionId,
      userId,
    )
    if (change.changed) this.#publishPresence(userId, false, change.totalUsers)
  }

  setTyping(subscriber: Subscriber, isTyping: boolean): void {
    if (!this.members.has(subscriber)) return
    const userId = subscriber.userId
    const current = this.#typing?.get(userId)
    if (current !== undefined) clearTimeout(current.timer)
    if (!isTyping) {
      if (current !== undefined) this.#endTyping(userId)
      return
    }
    const timer = setTimeout(() => this.#endTyping(userId), this.#options.typingTimeoutMs)
    ;(this.#typing ??= new Map()).set(userId, { subscriber, timer })
    if (current === undefined) this.#publishTyping(userId, true)
  }

  /** A socket that leaves takes its typing state with it. */
  stopTypingOf(subscriber: Subscriber): void {
    const current = this.#typing?.get(subscriber.userId)
    if (current?.subscriber === subscriber) {
      clearTimeout(current.timer)
      this.#endTyping(subscriber.userId)
    }
  }

  async dispose(): Promise<void> {
    if (this.#disposed) return
    this.#disposed = true
    clearTimeout(this.#gapTimer)
    for (const userId of [...(this.#typing?.keys() ?? [])]) this.#endTyping(userId)
    for (const userId of [...this.#presentUsers])
      await this.userDeparted(userId).catch(() => undefined)
    await this.#unsubscribe?.().catch(() => undefined)
  }

  #endTyping(userId: string): void {
    const current = this.#typing?.get(userId)
    if (current === undefined) return
    clearTimeout(current.timer)
    this.#typing!.delete(userId)
    this.#publishTyping(userId, false)
  }

  #publishTyping(userId: string, isTyping: boolean): void {
    const { presence, nodeId, bus, logger } = this.#options
    presence.setTyping(nodeId, this.#sessionId, userId, isTyping).catch(() => undefined)
    const event: SessionEvent = {
      type: 'typing.changed',
      sessionId: this.#sessionId,
      userId,
      isTyping,
      at: Date.now(),
    }
    bus.publish(sessionChannel(this.#sessionId), event).catch((error: unknown) => {
      logger.warn({ err: error }, 'could not publish a typing change')
    })
  }

  #publishPresence(userId: string, present: boolean, totalUsers: number): void {
    const event: SessionEvent = {
      type: 'presence.changed',
      sessionId: this.#sessionId,
      userId,
      present,
      totalUsers,
      at: Date.now(),
    }
    this.#options.bus.publish(sessionChannel(this.#sessionId), event).catch((error: unknown) => {
      this.#options.logger.warn({ err: error }, 'could not publish a presence change')
    })
  }

  #onEvent(event: SessionEvent): void {
    if (!this.#isReady) {
      ;(this.#early ??= []).push(event)
      return
    }
    switch (event.type) {
      case 'message.created':
        return this.#onMessage(event.message)
      case 'typing.changed':
        return this.#broadcast(
          eventFrame(
            'typing_indicator',
            this.#sessionId,
            event.userId,
            { is_typing: event.isTyping },
            event.at,
          ),
          (member) => member.subscriber.userId !== event.userId && !member.hidden.has(event.userId),
        )
      case 'presence.changed':
        return this.#broadcast(
          eventFrame(
            event.present ? 'user_joined' : 'user_left',
            this.#sessionId,
            event.userId,
            {
              total_users: event.totalUsers,
            },
            event.at,
          ),
        )
      case 'read.updated':
        return this.#broadcast(
          eventFrame(
            'read_receipt',
            this.#sessionId,
            event.userId,
            {
              up_to_message_id: event.messageId,
              seq: event.seq,
            },
            event.at,
          ),
          (member) => member.subscriber.userId !== event.userId,
        )
      case 'session.closed':
        this.isClosed = true
        this.#broadcast(
          eventFrame(
            'session_closed',
            this.#sessionId,
            event.closedBy,
            { closed_at: iso(event.closedAt) },
            event.closedAt,
          ),
        )
        return this.onClosed()
    }
  }

  #onMessage(message: MessageRecord): void {
    if (message.seq <= this.deliveredSeq) return
    if (message.seq !== this.deliveredSeq + 1) {
      ;(this.#ahead ??= new Map()).set(message.seq, message)
      this.#options.metrics.messagesOutOfOrder.inc()
      this.#gapTimer ??= setTimeout(() => void this.#fillGap(), this.#options.gapWaitMs ?? 150)
      return
    }
    this.#deliver(message)
    for (
      let next = this.#ahead?.get(this.deliveredSeq + 1);
      next;
      next = this.#ahead?.get(this.deliveredSeq + 1)
    ) {
      this.#ahead!.delete(next.seq)
      this.#deliver(next)
    }
  }

  #deliver(message: MessageRecord): void {
    this.deliveredSeq = message.seq
    let encoded: Buffer | undefined
    const once = () => (encoded ??= encode(messageFrame(message)))
    for (const member of this.members.values()) {
      member.sendMessage(message, once)
      const userId = member.subscriber.userId
      if (userId !== message.sender_id && !member.hidden.has(message.sender_id)) {
        this.#marks.record(this.#sessionId, userId, message.seq)
      }
    }
    if (encoded !== undefined)
      this.#options.metrics.framesDelivered.labels('message').inc(this.members.size)
  }

  /** Reads from the store what the bus has not (yet) delivered, and delivers it in order. */
  async #fillGap(): Promise<void> {
    this.#gapTimer = undefined
    if (this.#isFilling || this.#disposed) return
    this.#isFilling = true
    const { gapReads, gapMessages } = this.#options.metrics
    gapReads.inc()
    try {
      const before = this.deliveredSeq
      await this.#readStored(
        () => this.deliveredSeq,
        (message) => this.#onMessage(message),
      )
      gapMessages.inc(this.deliveredSeq - before)
      for (const seq of this.#ahead?.keys() ?? [])
        if (seq <= this.deliveredSeq) this.#ahead!.delete(seq)
    } catch (error) {
      this.#options.logger.warn(
        { err: error, session: this.#sessionId },
        'could not read missed messages; will retry',
      )
      this.#gapTimer ??= setTimeout(() => void this.#fillGap(), 1_000)
    } finally {
      this.#isFilling = false
    }
    if ((this.#ahead?.size ?? 0) > 0)
      this.#gapTimer ??= setTimeout(() => void this.#fillGap(), this.#options.gapWaitMs ?? 150)
  }

  #broadcast(frame: ServerFrame, mayReceive: (member: Member) => boolean = () => true): void {
    const data = encode(frame)
    let count = 0
    for (const member of this.members.values()) {
      if (!mayReceive(member)) continue
      member.sendFrame(data)
      count += 1
    }
    this.#options.metrics.framesDelivered.labels(frame.message_type).inc(count)
  }
}

/** One JSON encoding per frame, shared by every socket it goes to. */
export function encode(frame: ServerFrame): Buffer {
  return Buffer.from(JSON.stringify(frame))
}
