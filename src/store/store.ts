import type {
  ChatParticipantsTable,
  ChatSessionsTable,
  MessageType,
  Role,
  SessionStatus,
  UserBlocksTable,
  UsersTable,
} from './schema.js'

export type { MessageType, Role, SessionStatus }
export type UserRecord = UsersTable
/** A session's row, with what its messages say about it, read from them. */
export type SessionRecord = ChatSessionsTable & SessionFigures
export interface SessionFigures {
  /** The newest message's `seq` (0 before the first): seqs run 1, 2, 3… with no gaps. */
  last_seq: number
  /** The first message's time; null before it. */
  started_at: number | null
  /** The newest message's time; null before the first. */
  last_message_at: number | null
}
export type ParticipantRecord = ChatParticipantsTable
export type BlockRecord = UserBlocksTable

export interface MessageRecord {
  id: string
  chat_session_id: string
  seq: number
  sender_id: string
  message_type: MessageType
  content: string
  reply_to_id: string | null
  mentions: string[] | null
  file_url: string | null
  file_name: string | null
  file_size: number | null
  file_type: string | null
  client_message_id: string | null
  created_at: number
}

/** What a sender asks to store; the store adds `seq`. */
export type NewMessage = Omit<MessageRecord, 'seq'>

/**
 * A message record from its fields (a new message, or a row whose `mentions` the caller has
 * parsed), field by field: every stored message and every history row passes here, and V8 builds
 * `{ ...message, seq }` about ten times slower than this literal.
 */
export function messageRecord(
  fields: Omit<MessageRecord, 'seq' | 'mentions'>,
  seq: number,
  mentions: string[] | null,
): MessageRecord {
  return {
    id: fields.id,
    chat_session_id: fields.chat_session_id,
    seq,
    sender_id: fields.sender_id,
    message_type: fields.message_type,
    content: fields.content,
    reply_to_id: fields.reply_to_id,
    mentions,
    file_url: fields.file_url,
    file_name: fields.file_name,
    file_size: fields.file_size,
    file_type: fields.file_type,
    client_message_id: fields.client_message_id,
    created_at: fields.created_at,
  }
}

export type AppendResult =
  | { outcome: 'stored'; message: MessageRecord }
  /** The sender already stored a message with this `client_message_id` in this session. */
  | { outcome: 'duplicate'; message: MessageRecord }
  | { outcome: 'session_closed' }
  | { outcome: 'session_missing' }
  | { outcome: 'reply_missing' }

/**
 * Persistence, one small interface per table group. SQLite and PostgreSQL share one Kysely
 * implementation (`SqlStore`); only the message append, the hot path, is written per dialect.
 *
 * Every method either completes or throws; a database that cannot be reached throws an error that
 * `isStoreUnavailable` recognises, which the edges turn into `unavailable` (HTTP 503).
 */
export interface Store {
  readonly dialect: 'sqlite' | 'postgres'
  readonly users: UserStore
  readonly sessions: SessionStore
  readonly participants: ParticipantStore
  readonly messages: MessageStore
  readonly blocks: BlockStore
  /** Runs `fn` in one transaction; everything it does through the given store commits together. */
  transaction<T>(fn: (store: Store) => Promise<T>): Promise<T>
  /** Throws when the database does not answer. */
  ping(): Promise<void>
  close(): Promise<void>
}

export interface UserStore {
  insert(user: UserRecord): Promise<void>
  findById(id: string): Promise<UserRecord | undefined>
  findManyByIds(ids: readonly string[]): Promise<UserRecord[]>
  /** `email` is matched lower-cased. */
  findByEmail(email: string): Promise<UserRecord | undefined>
  findByExternalIdentity(issuer: string, subject: string): Promise<UserRecord | undefined>
}

export interface SessionListQuery {
  status: SessionStatus | undefined
  limit: number
  offset: number
}

export interface SessionStore {
  insert(session: SessionRecord): Promise<void>
  findById(id: string): Promise<SessionRecord | undefined>
  update(
    id: string,
    patch: Partial<Pick<SessionRecord, 'title' | 'assigned_agent_id'>>,
  ): Promise<void>
  /** Claims an unassigned active session for `agentId`; false if someone was first. */
  claim(id: string, agentId: string): Promise<boolean>
  /** Closes an active session; false if it was already closed. */
  close(id: string, closedBy: string, closedAt: number): Promise<boolean>
  /** Sessions `userId` takes part in, newest activity first. */
  listForParticipant(userId: string, query: SessionListQuery): Promise<SessionRecord[]>
  listAll(query: SessionListQuery): Promise<SessionRecord[]>
  /** Active sessions with no agent, newest activity first. */
  listUnassigned(query: Omit<SessionListQuery, 'status'>): Promise<SessionRecord[]>
}

export interface DeliveryMark {
  sessionId: string
  userId: string
  seq: number
}

export interface ParticipantStore {
  /** Adds the participant unless already there; returns the stored row either way. */
  add(participant: ParticipantRecord): Promise<{ participant: ParticipantRecord; added: boolean }>
  find(sessionId: string, userId: string): Promise<ParticipantRecord | undefined>
  list(sessionId: string): Promise<ParticipantRecord[]>
  /** Moves the read mark forward to `seq`; false if it already covered it. */
  markRead(sessionId: string, userId: string, seq: number, at: number): Promise<boolean>
  /** Raises each participant's delivered mark to its `seq`, in one statement; never lowers one. */
  markDelivered(marks: readonly DeliveryMark[]): Promise<void>
}

/**
 * A page of history. Without a cursor: newest first, skipping `offset` visible messages. `before`:
 * older than that `seq`, newest first. `after`: newer than that `seq`, oldest first (catching up).
 * Messages from `hiddenSenders` (the viewer's block list) are left out.
 */
export interface HistoryQuery {
  sessionId: string
  limit: number
  hiddenSenders: readonly string[]
  position: { offset: number } | { beforeSeq: number } | { afterSeq: number }
}

export interface MessageStore {
  /**
   * Stores a message and gives it the session's next `seq`, atomically: concurrent appends to one
   * session get consecutive numbers with no gap and no duplicate, on every node. Costs at most one
   * database round trip per message (appends may be grouped into one transaction).
   */
  append(message: NewMessage): Promise<AppendResult>
  findById(id: string): Promise<MessageRecord | undefined>
  findBySeq(sessionId: string, seq: number): Promise<MessageRecord | undefined>
  history(query: HistoryQuery): Promise<MessageRecord[]>
  /** Per session: messages after `userId`'s read mark, not sent by them or by `hiddenSenders`. */
  unreadCounts(
    userId: string,
    sessionIds: readonly string[],
    hiddenSenders: readonly string[],
  ): Promise<Map<string, number>>
}

export interface BlockStore {
  /** Idempotent: blocking twice keeps the first record. */
  block(block: BlockRecord): Promise<void>
  unblock(blockerId: string, blockedId: string): Promise<void>
  listByBlocker(blockerId: string): Promise<BlockRecord[]>
  /** Pairs among `userIds` where one blocks the other. */
  amongUsers(userIds: readonly string[]): Promise<BlockRecord[]>
  /** Pairs among a session's participants where one blocks the other. */
  withinSession(sessionId: string): Promise<BlockRecord[]>
  hasBlocked(blockerId: string, blockedId: string): Promise<boolean>
}
