import type { MessageFrame, MessageMetadata } from './protocol.js'

/** What a `message` frame is made of: a stored message, as the store or the REST API has it. */
export interface MessageFrameSource {
  id: string
  chat_session_id: string
  seq: number
  sender_id: string
  message_type: 'text' | 'file' | 'system'
  content: string
  reply_to_id: string | null
  mentions: string[] | null
  client_message_id: string | null
  file_url: string | null
  file_name: string | null
  file_size: number | null
  file_type: string | null
}

/**
 * A stored message as the guide's `message` frame; `content` of a file is its name. Shared by the
 * server (from store records) and the SDK (from REST history), so both build the same frame.
 */
export function messageFrameFrom(message: MessageFrameSource, timestamp: string): MessageFrame {
  const metadata: MessageMetadata = {
    message_id: message.id,
    seq: message.seq,
    reply_to_id: message.reply_to_id,
    mentions: message.mentions,
    client_message_id: message.client_message_id,
  }
  if (message.message_type === 'file') {
    metadata.kind = 'file'
    metadata.file_url = message.file_url
    metadata.file_name = message.file_name
    metadata.file_size = message.file_size
    metadata.file_type = message.file_type
  }
  return {
    message_type: 'message',
    chat_session_id: message.chat_session_id,
    user_id: message.sender_id,
    content: message.content,
    timestamp,
    metadata,
  }
}
