import { describe, expect, expectTypeOf, it } from 'vitest'
import WebSocket from 'ws'
import type { MessageBody } from '../src/chat/chat.schemas.js'
import type { ErrorMetadata } from '../src/realtime/protocol.js'
import {
  ChatClient,
  RestClient,
  type ChatEvents,
  type ClientFrame,
  type Message,
  type MessageFrame,
  type Participant,
  type ServerFrame,
  type Session,
  type TextMessage,
  type User,
  type WebSocketConstructor,
} from './index.js'

// These run at build time (`tsc --noEmit`): a change to the server's schemas or frames that the SDK
// relies on fails the build here, before any client sees it. Update the SDK with the lists below.
describe('the SDK’s types', () => {
  it('are the server’s own frames and schemas', () => {
    expectTypeOf<ChatEvents['message']>().toEqualTypeOf<MessageFrame>()
    expectTypeOf<ReturnType<ChatClient['send']>>().toEqualTypeOf<Promise<MessageFrame>>()
    expectTypeOf<ReturnType<RestClient['getSession']>>().toEqualTypeOf<Promise<Session>>()
    expectTypeOf<ReturnType<RestClient['history']>>().toEqualTypeOf<Promise<Message[]>>()
    expectTypeOf<ReturnType<RestClient['participants']>>().toEqualTypeOf<Promise<Participant[]>>()
    expectTypeOf<ReturnType<RestClient['me']>>().toEqualTypeOf<Promise<User>>()
    expectTypeOf<TextMessage['mentions']>().toEqualTypeOf<MessageBody['mentions']>()
  })

  it('pin the fields the SDK depends on', () => {
    expectTypeOf<keyof Session>().toEqualTypeOf<
      | 'id'
      | 'title'
      | 'status'
      | 'initiator_id'
      | 'assigned_agent_id'
      | 'created_at'
      | 'started_at'
      | 'closed_at'
      | 'total_messages'
      | 'unread_count'
      | 'last_message_at'
      | 'last_seq'
    >()
    expectTypeOf<keyof Message>().toEqualTypeOf<
      | 'id'
      | 'chat_session_id'
      | 'sender_id'
      | 'message_type'
      | 'content'
      | 'status'
      | 'created_at'
      | 'read_by_count'
      | 'seq'
      | 'reply_to_id'
      | 'mentions'
      | 'file_url'
      | 'file_name'
      | 'file_size'
      | 'file_type'
      | 'client_message_id'
    >()
    expectTypeOf<Session['last_seq']>().toEqualTypeOf<number>()
    expectTypeOf<Message['seq']>().toEqualTypeOf<number>()
    expectTypeOf<Message['client_message_id']>().toEqualTypeOf<string | null>()
    expectTypeOf<MessageFrame['metadata']['seq']>().toEqualTypeOf<number>()
    expectTypeOf<MessageFrame['metadata']['message_id']>().toEqualTypeOf<string>()
    expectTypeOf<MessageFrame['metadata']['client_message_id']>().toEqualTypeOf<string | null>()
    expectTypeOf<ErrorMetadata>().toEqualTypeOf<{
      code: string
      detail: string
      client_message_id: string | null
    }>()
    expectTypeOf<ServerFrame['message_type']>().toEqualTypeOf<
      | 'message'
      | 'typing_indicator'
      | 'user_joined'
      | 'user_left'
      | 'read_receipt'
      | 'session_closed'
      | 'subscribed'
      | 'unsubscribed'
      | 'error'
      | 'pong'
    >()
    expectTypeOf<ClientFrame['message_type']>().toEqualTypeOf<
      'text' | 'file' | 'typing' | 'read' | 'ping' | 'subscribe' | 'unsubscribe'
    >()
  })

  it('take the ws package as the WebSocket implementation', () => {
    expectTypeOf(WebSocket).toExtend<WebSocketConstructor>()
    expect(typeof WebSocket).toBe('function')
  })
})
