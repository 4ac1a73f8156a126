import { Type, type Static } from '@sinclair/typebox'
import { MessageBody } from '../chat/chat.schemas.js'
import { iso } from '../http/schemas.js'
import type { MessageRecord } from '../store/store.js'
import { messageFrameFrom } from './message-frame.js'

/**
 * The socket protocol: the guide's frames plus CONTRACT.md's extensions. This file is the spec the
 * SDK (`sdk/`) builds on: it imports these types, so a change here breaks the SDK's build.
 *
 * Client → server frames carry `message_type`; on the multiplexed socket (`/api/v1/chat/ws`) every
 * frame but `ping` also names its `chat_session_id`.
 */

const SessionRef = { chat_session_id: Type.Optional(Type.String()) }

/** `text` and `file`: a message to store and broadcast (same body as `POST …/messages`). */
export const SendFrame = Type.Composite([
  Type.Omit(MessageBody, ['message_type']),
  Type.Object({
    message_type: Type.Union([Type.Literal('text'), Type.Literal('file')]),
    ...SessionRef,
  }),
])
export type SendFrame = Static<typeof SendFrame>

/** `typing`: the guide sends `"true"`/`"false"` strings; booleans are accepted too. */
export const TypingFrame = Type.Object({
  message_type: Type.Literal('typing'),
  content: Type.Union([Type.Literal('true'), Type.Literal('false'), Type.Boolean()]),
  ...SessionRef,
})
export type TypingFrame = Static<typeof TypingFrame>

/** `read`: moves the sender's read mark, as `POST …/mark-read` does. */
export const ReadFrame = Type.Object({
  message_type: Type.Literal('read'),
  up_to_message_id: Type.Optional(Type.Union([Type.String({ format: 'uuid' }), Type.Null()])),
  ...SessionRef,
})
export type ReadFrame = Static<typeof ReadFrame>

export const PingFrame = Type.Object({ message_type: Type.Literal('ping') })

/** Multiplexed socket only: start receiving a session, replaying what came after `last_seq`. */
export const SubscribeFrame = Type.Object({
  message_type: Type.Literal('subscribe'),
  chat_session_id: Type.String(),
  last_seq: Type.Optional(Type.Union([Type.Integer({ minimum: 0 }), Type.Null()])),
})
export type SubscribeFrame = Static<typeof SubscribeFrame>

export const UnsubscribeFrame = Type.Object({
  message_type: Type.Literal('unsubscribe'),
  chat_session_id: Type.String(),
})
export type UnsubscribeFrame = Static<typeof UnsubscribeFrame>

export type ClientFrame =
  SendFrame | TypingFrame | ReadFrame | Static<typeof PingFrame> | SubscribeFrame | UnsubscribeFrame

export const CLIENT_FRAMES = {
  text: SendFrame,
  file: SendFrame,
  typing: TypingFrame,
  read: ReadFrame,
  ping: PingFrame,
  subscribe: SubscribeFrame,
  unsubscribe: UnsubscribeFrame,
} as const
export type ClientFrameType = keyof typeof CLIENT_FRAMES

/** The guide's envelope, which every server frame but `pong` has. */
interface Envelope<Type extends string, Metadata> {
  message_type: Type
  chat_session_id: string
  /** Whoever caused the frame, where someone did. */
  user_id: string | null
  timestamp: string
  metadata: Metadata
}

export interface MessageMetadata {
  message_id: string
  seq: number
  reply_to_id: string | null
  mentions: string[] | null
  client_message_id: string | null
  /** Only on the answer to a resend the sender's socket had already been sent. */
  duplicate?: true
  /** Files only. */
  kind?: 'file'
  file_url?: string | null
  file_name?: string | null
  file_size?: number | null
  file_type?: string | null
}

export type MessageFrame = Envelope<'message', MessageMetadata> & { content: string }
export type TypingIndicatorFrame = Envelope<'typing_indicator', { is_typing: boolean }>
export type UserJoinedFrame = Envelope<'user_joined', { total_users: number }>
export type UserLeftFrame = Envelope<'user_left', { total_users: number }>
export type ReadReceiptFrame = Envelope<'read_receipt', { up_to_message_id: string; seq: number }>
export type SessionClosedFrame = Envelope<'session_closed', { closed_at: string }>
export type SubscribedFrame = Envelope<'subscribed', { last_seq: number }>
export type UnsubscribedFrame = Envelope<'unsubscribed', Record<string, never>>
export type ErrorFrame = Omit<Envelope<'error', ErrorMetadata>, 'chat_session_id'> & {
  chat_session_id: string | null
}
export interface ErrorMetadata {
  /** The same stable codes as the REST API's (`bad_request`, `rate_limited`, `unavailable`, …). */
  code: string
  detail: string
  /** Echoed from the frame that failed, so a client can match the error to its send. */
  client_message_id: string | null
}
export interface PongFrame {
  message_type: 'pong'
  timestamp: string
}

export type ServerFrame =
  | MessageFrame
  | TypingIndicatorFrame
  | UserJoinedFrame
  | UserLeftFrame
  | ReadReceiptFrame
  | SessionClosedFrame
  | SubscribedFrame
  | UnsubscribedFrame
  | ErrorFrame
  | PongFrame

/** A stored message as the guide's `message` frame. */
export function messageFrame(message: MessageRecord): MessageFrame {
  return messageFrameFrom(message, iso(message.created_at))
}

export function errorFrame(
  sessionId: string | null,
  userId: string | null,
  error: { code: string; detail: string },
  clientMessageId: string | null = null,
): ErrorFrame {
  return {
    message_type: 'error',
    chat_session_id: sessionId,
    user_id: userId,
    timestamp: new Date().toISOString(),
    metadata: { code: error.code, detail: error.detail, client_message_id: clientMessageId },
  }
}

/** Frames whose envelope is all there is: presence, typing, receipts, closing, subscriptions. */
export function eventFrame<F extends Exclude<ServerFrame, MessageFrame | ErrorFrame | PongFrame>>(
  type: F['message_type'],
  sessionId: string,
  userId: string | null,
  metadata: F['metadata'],
  at: number = Date.now(),
): F {
  return {
    message_type: type,
    chat_session_id: sessionId,
    user_id: userId,
    timestamp: iso(at),
    metadata,
  } as F
}
