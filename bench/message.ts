import type { NewMessage } from '../src/store/store.js'

/** The text of every message the bench sends: a customer's first line, of ordinary length. */
export const MESSAGE_TEXT = 'Hello, I need help with my wallet: the card was declined twice today.'

/**
 * The `client_message_id` of a bench send numbered `index`: base 36 and of fixed width, so the ids
 * sort in the order they were sent, as the SDK's time-ordered ids do (the server indexes them).
 * Unpadded, the count would go …, `z`, `10`, … and each id would land on a page of its own there.
 */
export function clientMessageId(index: number): string {
  return index.toString(36).padStart(6, '0')
}

type MessageIds = Pick<
  NewMessage,
  'id' | 'chat_session_id' | 'sender_id' | 'client_message_id' | 'created_at'
>

/**
 * That text as the store receives it from a socket, under the ids given. Spelled out, not spread:
 * `{ ...ids, more }` costs V8 about 13 µs an object on this machine, which would count as storing
 * in the store-alone figures.
 */
export function textMessage(ids: MessageIds): NewMessage {
  return {
    id: ids.id,
    chat_session_id: ids.chat_session_id,
    sender_id: ids.sender_id,
    client_message_id: ids.client_message_id,
    created_at: ids.created_at,
    message_type: 'text',
    content: MESSAGE_TEXT,
    reply_to_id: null,
    mentions: null,
    file_url: null,
    file_name: null,
    file_size: null,
    file_type: null,
  }
}
