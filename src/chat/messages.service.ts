import { newId } from '../ids.js'
import type { Config } from '../config.js'
import { AppError, badRequest, conflict, notFound } from '../errors.js'
import { RateLimiter } from '../rate-limit.js'
import type {
  AppendResult,
  HistoryQuery as StoreHistoryQuery,
  MessageRecord,
  Store,
  UserRecord,
} from '../store/store.js'
import { requireParticipant, requireSessionAccess, type Caller } from './chat-access.js'
import type { EventSink } from './chat-events.js'
import {
  MAX_CONTENT_CHARS,
  type HistoryQuery,
  type Message,
  type MessageBody,
} from './chat.schemas.js'
import { messageViewer } from './views.js'

export interface PostResult {
  message: MessageRecord
  /** A resend with a `client_message_id` already stored: nothing new was stored or broadcast. */
  duplicate: boolean
}

/**
 * Messages: sending, history, read marks. One code path serves REST and the socket, so both
 * validate, limit and store alike.
 */
export class MessagesService {
  readonly #limiter: RateLimiter
  readonly #maxPending: number
  /** Sends waiting for the store now. */
  #pending = 0

  constructor(
    private readonly store: Store,
    private readonly events: EventSink,
    limits: Pick<Config['limits'], 'messagesPerSecond' | 'messageBurst' | 'maxPendingMessages'>,
    private readonly now: () => number = Date.now,
  ) {
    this.#maxPending = limits.maxPendingMessages
    this.#limiter = new RateLimiter({
      capacity: limits.messageBurst,
      refillPerSecond: limits.messagesPerSecond,
      now,
    })
  }

  /**
   * Stores the message, then announces it. `isKnownParticipant` skips the participation lookup for
   * a socket that checked it when it joined; the store still refuses a closed session.
   */
  async post(
    caller: Caller,
    sessionId: string,
    body: MessageBody,
    options: { isKnownParticipant?: boolean } = {},
  ): Promise<PostResult> {
    const input = validateMessage(body)
    const limited = this.#limiter.take(caller.id)
    if (!limited.allowed) {
      throw new AppError('rate_limited', 'You are sending messages too fast; slow down.', {
        retryAfterSeconds: limited.retryAfterSeconds,
      })
    }
    if (options.isKnownParticipant !== true) {
      const { session } = await requireParticipant(this.store, caller, sessionId)
      if (session.status === 'closed') throw conflict('The session is closed.')
    }

    // Overload: refuse rather than queue without bound. The client retries; nothing is lost.
    if (this.#pending >= this.#maxPending) {
      this.#limiter.refund(caller.id)
      throw new AppError('unavailable', 'The server is busy; try again shortly.', {
        retryAfterSeconds: 1,
      })
    }
    this.#pending += 1
    let result: AppendResult
    try {
      result = await this.store.messages.append({
        id: newId(),
        chat_session_id: sessionId,
        sender_id: caller.id,
        created_at: this.now(),
        ...input,
      })
    } finally {
      this.#pending -= 1
    }
    switch (result.outcome) {
      case 'stored':
        this.events.publish({ type: 'message.created', sessionId, message: result.message })
        return { message: result.message, duplicate: false }
      case 'duplicate':
        // A resend stores nothing, so it does not count against the sender's rate.
        this.#limiter.refund(caller.id)
        return { message: result.message, duplicate: true }
      case 'session_closed':
        throw conflict('The session is closed.')
      case 'session_missing':
        throw notFound('No chat session has this id.')
      case 'reply_missing':
        throw badRequest('reply_to_id names no message in this session.')
    }
  }

  /** One message as the caller sees it (status and read count for this session's audience). */
  async view(sessionId: string, message: MessageRecord): Promise<Message> {
    const [participants, blocks] = await Promise.all([
      this.store.participants.list(sessionId),
      this.store.blocks.withinSession(sessionId),
    ])
    return messageViewer(participants, blocks)(message)
  }

  /**
   * A page of history as the caller may see it. Fetching counts as delivery: the caller's delivered
   * mark rises to the newest message of the page.
   */
  async history(caller: UserRecord, sessionId: string, query: HistoryQuery): Promise<Message[]> {
    const cursors = [query.before, query.after].filter((c) => c !== undefined).length
    if (cursors > 1) throw badRequest('Use at most one of before and after.')
    if (cursors === 1 && query.offset !== undefined) {
      throw badRequest('offset cannot be combined with before or after.')
    }
    const { participant } = await requireSessionAccess(this.store, caller, sessionId)
    const [participants, blocks, position] = await Promise.all([
      this.store.participants.list(sessionId),
      this.store.blocks.withinSession(sessionId),
      this.#position(sessionId, query),
    ])
    const hiddenSenders = blocks.filter((b) => b.blocker_id === caller.id).map((b) => b.blocked_id)
    const page = await this.store.messages.history({
      sessionId,
      limit: query.limit,
      hiddenSenders,
      position,
    })

    const newestSeq = page.reduce((max, message) => Math.max(max, message.seq), 0)
    if (participant !== undefined && newestSeq > participant.last_delivered_seq) {
      await this.store.participants.markDelivered([
        { sessionId, userId: caller.id, seq: newestSeq },
      ])
      const self = participants.find((p) => p.user_id === caller.id)
      if (self !== undefined) self.last_delivered_seq = newestSeq
    }
    return page.map(messageViewer(participants, blocks))
  }

  /**
   * Moves the caller's read mark to the given message (default: the newest). The mark never moves
   * back; when it moves, the others get a read receipt.
   */
  async markRead(
    caller: Caller,
    sessionId: string,
    upToMessageId: string | null | undefined,
  ): Promise<{ at: number }> {
    const { session } = await requireParticipant(this.store, caller, sessionId)
    const target =
      upToMessageId != null
        ? await this.store.messages.findById(upToMessageId)
        : await this.store.messages.findBySeq(sessionId, session.last_seq)
    if (upToMessageId != null) {
      if (target === undefined) throw notFound('No message has this id.')
      if (target.chat_session_id !== sessionId) {
        throw badRequest('up_to_message_id names a message of another session.')
      }
    }
    const at = this.now()
    if (
      target !== undefined &&
      (await this.store.participants.markRead(sessionId, caller.id, target.seq, at))
    ) {
      this.events.publish({
        type: 'read.updated',
        sessionId,
        userId: caller.id,
        messageId: target.id,
        seq: target.seq,
        at,
      })
    }
    return { at }
  }

  /** Where a history page starts; a cursor must name a message of this session. */
  async #position(sessionId: string, query: HistoryQuery): Promise<StoreHistoryQuery['position']> {
    const cursorId = query.before ?? query.after
    if (cursorId === undefined) return { offset: query.offset ?? 0 }
    const cursor = await this.store.messages.findById(cursorId)
    if (cursor === undefined) throw notFound('The cursor names no message.')
    if (cursor.chat_session_id !== sessionId) {
      throw badRequest('The cursor names a message of another session.')
    }
    return query.before !== undefined ? { beforeSeq: cursor.seq } : { afterSeq: cursor.seq }
  }
}

type ValidMessage = Pick<
  MessageRecord,
  | 'message_type'
  | 'content'
  | 'reply_to_id'
  | 'mentions'
  | 'file_url'
  | 'file_name'
  | 'file_size'
  | 'file_type'
  | 'client_message_id'
>

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** The rules a message must follow, with a sentence for each; shared by REST and the socket. */
function validateMessage(body: MessageBody): ValidMessage {
  // Runs for every message: one object literal per kind, no spreads, no copies of the content.
  if (body.reply_to_id != null && !UUID.test(body.reply_to_id)) {
    throw badRequest('reply_to_id must be the id (a UUID) of a message in this session.')
  }
  if ((body.message_type ?? 'text') === 'text') {
    return {
      message_type: 'text',
      content: requireContent(body.content),
      reply_to_id: body.reply_to_id ?? null,
      mentions: body.mentions ?? null,
      client_message_id: body.client_message_id ?? null,
      file_url: null,
      file_name: null,
      file_size: null,
      file_type: null,
    }
  }

  if (body.file_url == null || !isWebUrl(body.file_url)) {
    throw new AppError('invalid_file_url', 'file_url must be an absolute https: or http: URL.')
  }
  const fileName = body.file_name?.trim()
  if (!fileName) throw badRequest('A file message needs a file_name.')
  if (fileName.length > 255) throw badRequest('file_name must be at most 255 characters.')
  const fileType = body.file_type?.trim()
  if (!fileType) throw badRequest('A file message needs a file_type (a media type).')
  if (fileType.length > 255) throw badRequest('file_type must be at most 255 characters.')
  return {
    message_type: 'file',
    // The guide's clients show `content`; for a file that is its name.
    content: isBlank(body.content) ? fileName : requireContent(body.content),
    reply_to_id: body.reply_to_id ?? null,
    mentions: body.mentions ?? null,
    client_message_id: body.client_message_id ?? null,
    file_url: body.file_url,
    file_name: fileName,
    file_size: body.file_size ?? null,
    file_type: fileType,
  }
}

const isBlank = (text: string | null | undefined): text is null | undefined =>
  text == null || !/\S/.test(text)

function requireContent(content: string | null | undefined): string {
  if (isBlank(content)) throw badRequest('content is required.')
  // Characters are code points: an emoji counts once, though it takes two UTF-16 units.
  if (content.length > MAX_CONTENT_CHARS && [...content].length > MAX_CONTENT_CHARS) {
    throw badRequest(
      `content must be at most ${MAX_CONTENT_CHARS.toLocaleString('en')} characters.`,
    )
  }
  return content
}

function isWebUrl(value: string): boolean {
  if (value.length > 2048) return false
  try {
    const url = new URL(value)
    return (url.protocol === 'https:' || url.protocol === 'http:') && url.hostname !== ''
  } catch {
    return false
  }
}
