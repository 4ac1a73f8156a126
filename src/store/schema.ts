/**
 * The tables as Kysely sees them. Timestamps are milliseconds since the epoch in a BIGINT on both
 * databases: one representation, cheap comparisons, and the API layer formats RFC 3339 once.
 */
export type Role = 'user' | 'agent' | 'admin'
export type SessionStatus = 'active' | 'closed'
export type MessageType = 'text' | 'file' | 'system'

export interface Database {
  users: UsersTable
  chat_sessions: ChatSessionsTable
  chat_participants: ChatParticipantsTable
  chat_messages: ChatMessagesTable
  user_blocks: UserBlocksTable
}

export interface UsersTable {
  id: string
  /** Lower-cased; null for a user known only from an outside identity provider. */
  email: string | null
  full_name: string | null
  role: Role
  /** Null for outside users: they never log in with a password here. */
  password_hash: string | null
  external_issuer: string | null
  external_subject: string | null
  created_at: number
}

/**
 * A session's row. What its messages say (its newest `seq`, the first and the newest message's
 * times) is read from them, not kept here: see `SessionRecord`. PostgreSQL has one more column,
 * `last_seq`, that only its append statements use: the counter whose row lock numbers a session's
 * messages in order, whichever node stores them.
 */
export interface ChatSessionsTable {
  id: string
  title: string
  status: SessionStatus
  initiator_id: string
  assigned_agent_id: string | null
  created_at: number
  closed_at: number | null
  closed_by: string | null
  /**
   * The lists' order: `created_at` until the first message, then the newest message's time,
   * written behind the hot path (`SqlStore`'s activity marks), so it may trail that message briefly.
   */
  last_activity_at: number
}

export interface ChatParticipantsTable {
  id: string
  chat_session_id: string
  user_id: string
  role: Role
  joined_at: number
  left_at: number | null
  /** Read mark: every message with `seq <= last_read_seq` counts as read. Never moves back. */
  last_read_seq: number
  last_read_at: number | null
  /** Highest `seq` that reached this participant (socket or history fetch). */
  last_delivered_seq: number
}

export interface ChatMessagesTable {
  id: string
  chat_session_id: string
  seq: number
  sender_id: string
  message_type: MessageType
  content: string
  reply_to_id: string | null
  /** JSON array of user ids, or null. */
  mentions: string | null
  file_url: string | null
  file_name: string | null
  file_size: number | null
  file_type: string | null
  client_message_id: string | null
  created_at: number
}

export interface UserBlocksTable {
  blocker_id: string
  blocked_id: string
  reason: string | null
  created_at: number
}
