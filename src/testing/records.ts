import { randomUUID } from 'node:crypto'
import type { NewMessage, SessionRecord, UserRecord } from '../store/store.js'

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

export function sessionRecord(
  initiatorId: string,
  overrides: Partial<SessionRecord> = {},
): SessionRecord {
  return {
    id: randomUUID(),
    title: 'Card declined',
    status: 'active',
    initiator_id: initiatorId,
    assigned_agent_id: null,
    created_at: Date.now(),
    started_at: null,
    closed_at: null,
    closed_by: null,
    last_seq: 0,
    last_message_at: null,
    last_activity_at: Date.now(),
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
