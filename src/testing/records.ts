import { randomUUID } from 'node:crypto'
import type { NewMessage, ParticipantRecord, SessionRecord, UserRecord } from '../store/store.js'
import type { ChatSessionsTable } from '../store/schema.js'

/** Rows as the store takes them, for tests that work below the services. */

export function userRecord(overrides: Partial<UserRecord> = {}): UserRecord {
  const id = overrides.id ?? randomUUID()
  return {
    id,
    email: `user-${id}@example.com`,
    full_name: null,
    role: 'user',
    password_hash: null,
    external_issuer: null,
    external_subject: null,
    created_at: Date.now(),
    ...overrides,
  }
}

/** A session as the store reads it: its row, and the figures of a session with no message yet. */
export function sessionRecord(
  initiatorId: string,
  overrides: Partial<SessionRecord> = {},
): SessionRecord {
  return {
    ...sessionRow(initiatorId),
    last_seq: 0,
    started_at: null,
    last_message_at: null,
    ...overrides,
  }
}

/** A session's row as the table holds it, for tests that write the table themselves. */
export function sessionRow(
  initiatorId: string,
  overrides: Partial<ChatSessionsTable> = {},
): ChatSessionsTable {
  return {
    id: randomUUID(),
    title: 'Card declined',
    status: 'active',
    initiator_id: initiatorId,
    assigned_agent_id: null,
    created_at: Date.now(),
    closed_at: null,
    closed_by: null,
    last_activity_at: Date.now(),
    ...overrides,
  }
}

export function participantRecord(
  sessionId: string,
  userId: string,
  overrides: Partial<ParticipantRecord> = {},
): ParticipantRecord {
  return {
    id: randomUUID(),
    chat_session_id: sessionId,
    user_id: userId,
    role: 'user',
    joined_at: Date.now(),
    left_at: null,
    last_read_seq: 0,
    last_read_at: null,
    last_delivered_seq: 0,
    ...overrides,
  }
}

export function newMessage(
  sessionId: string,
  senderId: string,
  overrides: Partial<NewMessage> = {},
): NewMessage {
  return {
    id: randomUUID(),
    chat_session_id: sessionId,
    sender_id: senderId,
    message_type: 'text',
    content: 'hello',
    reply_to_id: null,
    mentions: null,
    file_url: null,
    file_name: null,
    file_size: null,
    file_type: null,
    client_message_id: null,
    created_at: Date.now(),
    ...overrides,
  }
}
