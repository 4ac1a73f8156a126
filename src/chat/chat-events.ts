import type { MessageRecord } from '../store/store.js'

/**
 * What happens in a session, as nodes tell each other over the bus (past tense: it has happened
 * and, for messages, is committed). Hubs turn these into the guide's frames for their sockets.
 */
export type SessionEvent =
  | { type: 'message.created'; sessionId: string; message: MessageRecord }
  | {
      type: 'read.updated'
      sessionId: string
      userId: string
      messageId: string
      seq: number
      at: number
    }
  | { type: 'session.closed'; sessionId: string; closedBy: string; closedAt: number }
  | { type: 'typing.changed'; sessionId: string; userId: string; isTyping: boolean; at: number }
  | {
      type: 'presence.changed'
      sessionId: string
      userId: string
      present: boolean
      totalUsers: number
      at: number
    }

/** Changes that concern one user wherever they are connected. */
export type UserEvent = {
  type: 'block.changed'
  userId: string
  otherUserId: string
  blocked: boolean
}

export type ChatEvent = SessionEvent | UserEvent

/**
 * Where services announce what happened. Fire and forget: announcing never fails the operation
 * that caused it, because what matters is already committed and clients catch up by `seq`.
 */
export interface EventSink {
  publish(event: ChatEvent): void
}
