import { Type, type Static } from '@sinclair/typebox'
import { Role } from '../auth/auth.schemas.js'
import { Nullable, OptionalNullable, Timestamp, Uuid } from '../http/schemas.js'

/** The longest `content` a message may have, in characters. */
export const MAX_CONTENT_CHARS = 4000
export const MAX_TITLE_CHARS = 200

export const SessionId = Type.Object({ session_id: Uuid })

export const SessionStatus = Type.Union([Type.Literal('active'), Type.Literal('closed')])

export const Session = Type.Object({
  id: Uuid,
  title: Type.String(),
  status: SessionStatus,
  initiator_id: Uuid,
  assigned_agent_id: Nullable(Uuid),
  created_at: Timestamp,
  started_at: Nullable(Timestamp),
  closed_at: Nullable(Timestamp),
  total_messages: Type.Integer({ minimum: 0 }),
  unread_count: Type.Integer({ minimum: 0, description: 'For the caller' }),
  last_message_at: Nullable(Timestamp),
  last_seq: Type.Integer({ minimum: 0, description: 'The newest message seq' }),
})
export type Session = Static<typeof Session>

const Title = Type.String({ minLength: 1, maxLength: MAX_TITLE_CHARS })

export const CreateSessionBody = Type.Object({
  title: Title,
  assigned_agent_id: OptionalNullable(Uuid),
  participant_ids: OptionalNullable(Type.Array(Uuid, { maxItems: 50 })),
})
export type CreateSessionBody = Static<typeof CreateSessionBody>

export const PatchSessionBody = Type.Object({
  title: OptionalNullable(Title),
  assigned_agent_id: OptionalNullable(Uuid),
})
export type PatchSessionBody = Static<typeof PatchSessionBody>

export const ListSessionsQuery = Type.Object({
  status: Type.Optional(SessionStatus),
  limit: Type.Integer({ minimum: 1, maximum: 100, default: 50 }),
  offset: Type.Integer({ minimum: 0, default: 0 }),
  queue: Type.Optional(
    Type.Literal('unassigned', { description: 'Agents and admins: active sessions with no agent' }),
  ),
})
export type ListSessionsQuery = Static<typeof ListSessionsQuery>

export const MessageType = Type.Union([
  Type.Literal('text'),
  Type.Literal('file'),
  Type.Literal('system'),
])

export const MessageStatus = Type.Union([
  Type.Literal('sent'),
  Type.Literal('delivered'),
  Type.Literal('read'),
])

export const Message = Type.Object({
  id: Uuid,
  chat_session_id: Uuid,
  sender_id: Uuid,
  message_type: MessageType,
  content: Type.String(),
  status: MessageStatus,
  created_at: Timestamp,
  read_by_count: Type.Integer({ minimum: 0 }),
  seq: Type.Integer({ minimum: 1 }),
  reply_to_id: Nullable(Uuid),
  mentions: Nullable(Type.Array(Type.String())),
  file_url: Nullable(Type.String()),
  file_name: Nullable(Type.String()),
  file_size: Nullable(Type.Integer()),
  file_type: Nullable(Type.String()),
  client_message_id: Nullable(Type.String()),
})
export type Message = Static<typeof Message>

/**
 * A message to send: the body of `POST …/messages` and of the socket's `text` and `file` frames.
 * Types are checked here; the rules that need a sentence of their own (content length, file URL)
 * are checked by `MessagesService`, so REST and socket say the same thing.
 */
export const MessageBody = Type.Object({
  message_type: Type.Optional(
    Type.Union([Type.Literal('text'), Type.Literal('file')], { default: 'text' }),
  ),
  content: OptionalNullable(Type.String({ description: `Up to ${MAX_CONTENT_CHARS} characters` })),
  reply_to_id: OptionalNullable(Type.String({ description: 'A message of the same session' })),
  mentions: OptionalNullable(Type.Array(Type.String({ maxLength: 200 }), { maxItems: 50 })),
  client_message_id: OptionalNullable(
    Type.String({
      minLength: 1,
      maxLength: 100,
      description: 'Makes the send idempotent per sender and session',
    }),
  ),
  file_url: OptionalNullable(Type.String({ description: 'Absolute http(s) URL' })),
  file_name: OptionalNullable(Type.String()),
  file_size: OptionalNullable(Type.Integer({ minimum: 0 })),
  file_type: OptionalNullable(Type.String()),
})
export type MessageBody = Static<typeof MessageBody>

export const HistoryQuery = Type.Object({
  limit: Type.Integer({ minimum: 1, maximum: 100, default: 50 }),
  offset: Type.Optional(
    Type.Integer({ minimum: 0, description: 'Messages to skip, counting back from the newest' }),
  ),
  before: Type.Optional(Uuid),
  after: Type.Optional(Uuid),
})
export type HistoryQuery = Static<typeof HistoryQuery>

export const MarkReadBody = Type.Object({
  up_to_message_id: OptionalNullable(Uuid),
})

export const MarkReadResponse = Type.Object({
  success: Type.Boolean(),
  message: Type.String(),
  timestamp: Timestamp,
})

export const Participant = Type.Object({
  id: Uuid,
  user_id: Uuid,
  role: Role,
  joined_at: Timestamp,
  is_active: Type.Boolean(),
  last_read_at: Nullable(Timestamp),
  is_online: Type.Boolean({ description: 'Has an open socket on this session now, on any node' }),
})
export type Participant = Static<typeof Participant>

export const AddParticipantBody = Type.Object({ user_id: Uuid })

export const BlockBody = Type.Object({
  user_id: Uuid,
  reason: OptionalNullable(Type.String({ maxLength: 500 })),
})

export const UnblockBody = Type.Object({ user_id: Uuid })

export const BlockedUser = Type.Object({
  user_id: Uuid,
  email: Nullable(Type.String()),
  full_name: Nullable(Type.String()),
  reason: Nullable(Type.String()),
  blocked_at: Timestamp,
})

export const WsStats = Type.Object({
  total_sessions: Type.Integer(),
  total_connections: Type.Integer(),
  average_users_per_session: Type.Number(),
  sessions: Type.Record(
    Type.String(),
    Type.Object({ user_count: Type.Integer(), typing_count: Type.Integer() }),
  ),
  nodes: Type.Integer({ description: 'Nodes reporting' }),
})
export type WsStats = Static<typeof WsStats>
