/**
 * The swipesavvy-chat client SDK. Types come from the server's own definitions
 * (`src/realtime/protocol.ts`, the route schemas), so a protocol change breaks this build.
 *
 * ```ts
 * import WebSocket from 'ws' // browsers and React Native have their own
 * const chat = new ChatClient({ baseUrl: 'http://localhost:8000', WebSocket })
 * await chat.rest.login({ email, password })
 * chat.on('message', (message) => render(message))
 * await chat.join(sessionId)
 * await chat.send(sessionId, { content: 'Hello' })
 * ```
 */
export { Backoff, type BackoffOptions } from './backoff.js'
export {
  ChatClient,
  type ChatClientOptions,
  type ChatEvents,
  type FileMessage,
  type Refusal,
  type SessionPosition,
  type SocketForm,
  type StateChange,
  type TextMessage,
} from './chat-client.js'
export {
  ChatSocket,
  type ChatSocketEvents,
  type ChatSocketOptions,
  type SocketState,
  type WebSocketConstructor,
  type WebSocketLike,
} from './chat-socket.js'
export { ChatApiError, ChatSocketError } from './errors.js'
export {
  RestClient,
  type BlockedUserView,
  type HistoryRequest,
  type ListSessionsRequest,
  type LoginRequest,
  type MarkReadReply,
  type RegisterRequest,
  type RestClientOptions,
  type SuccessReply,
  type TokenReply,
} from './rest-client.js'
export { messageFrameOf } from './session-feed.js'
export { timeOrderedId } from './time-ordered-id.js'
export { TypingThrottle, type TypingThrottleOptions } from './typing-throttle.js'
export { CloseCode } from '../src/realtime/close-codes.js'
export type { Message, Participant, Session, WsStats } from '../src/chat/chat.schemas.js'
export type { User } from '../src/auth/auth.schemas.js'
export type {
  ClientFrame,
  ErrorFrame,
  MessageFrame,
  ReadReceiptFrame,
  ServerFrame,
  SessionClosedFrame,
  TypingIndicatorFrame,
  UserJoinedFrame,
  UserLeftFrame,
} from '../src/realtime/protocol.js'
