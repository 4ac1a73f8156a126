import { iso, isoOrNull } from '../http/schemas.js'
import type {
  BlockRecord,
  MessageRecord,
  ParticipantRecord,
  SessionRecord,
} from '../store/store.js'
import type { Message, Participant, Session } from './chat.schemas.js'

/** Store records → the wire shapes of CONTRACT.md. Pure functions; one place for each shape. */

export function toSessionView(session: SessionRecord, unreadCount: number): Session {
  return {
    id: session.id,
    title: session.title,
    status: session.status,
    initiator_id: session.initiator_id,
    assigned_agent_id: session.assigned_agent_id,
    created_at: iso(session.created_at),
    started_at: isoOrNull(session.started_at),
    closed_at: isoOrNull(session.closed_at),
    total_messages: session.last_seq,
    unread_count: unreadCount,
    last_message_at: isoOrNull(session.last_message_at),
    last_seq: session.last_seq,
  }
}

export function toParticipantView(participant: ParticipantRecord, isOnline: boolean): Participant {
  return {
    id: participant.id,
    user_id: participant.user_id,
    role: participant.role,
    joined_at: iso(participant.joined_at),
    is_active: participant.left_at === null,
    last_read_at: isoOrNull(participant.last_read_at),
    is_online: isOnline,
  }
}

/**
 * Message views for one session's audience. A message's `status` and `read_by_count` count the
 * other participants who could see it: a participant who blocked the sender never did.
 */
export function messageViewer(
  participants: readonly ParticipantRecord[],
  blocks: readonly BlockRecord[],
): (message: MessageRecord) => Message {
  const blocked = new Set(blocks.map((block) => `${block.blocker_id}>${block.blocked_id}`))
  return (message) => {
    let readBy = 0
    let delivered = false
    for (const participant of participants) {
      if (participant.user_id === message.sender_id) continue
      if (blocked.has(`${participant.user_id}>${message.sender_id}`)) continue
      if (participant.last_read_seq >= message.seq) readBy += 1
      if (Math.max(participant.last_read_seq, participant.last_delivered_seq) >= message.seq) {
        delivered = true
      }
    }
    return {
      ...toMessageFields(message),
      status: readBy > 0 ? 'read' : delivered ? 'delivered' : 'sent',
      read_by_count: readBy,
    }
  }
}

/** A message as stored, in wire form, without the viewer-dependent `status` and `read_by_count`. */
function toMessageFields(message: MessageRecord): Omit<Message, 'status' | 'read_by_count'> {
  return {
    id: message.id,
    chat_session_id: message.chat_session_id,
    sender_id: message.sender_id,
    message_type: message.message_type,
    content: message.content,
    created_at: iso(message.created_at),
    seq: message.seq,
    reply_to_id: message.reply_to_id,
    mentions: message.mentions,
    file_url: message.file_url,
    file_name: message.file_name,
    file_size: message.file_size,
    file_type: message.file_type,
    client_message_id: message.client_message_id,
  }
}
