import type { WsStats } from '../chat/chat.schemas.js'

/**
 * Who is connected to which session, over every node. Each node reports its own sockets; counts
 * are of distinct users per session. A node that stops reporting (it died) drops out of every count
 * within `nodeTimeoutMs`, and `onExpired` hears about each user that left with it.
 */
export interface Presence {
  /** One more socket of `userId` on `sessionId` at `nodeId`. */
  connect(nodeId: string, sessionId: string, userId: string): Promise<PresenceChange>
  /** One socket fewer. */
  disconnect(nodeId: string, sessionId: string, userId: string): Promise<PresenceChange>
  setTyping(nodeId: string, sessionId: string, userId: string, isTyping: boolean): Promise<void>
  /** This node's count of open sockets, for `total_connections`. */
  setSocketCount(nodeId: string, count: number): void
  users(sessionId: string): Promise<ReadonlySet<string>>
  stats(): Promise<WsStats>
  /** Users who vanished with a dead node and have no socket elsewhere. */
  onExpired(listener: (sessionId: string, userId: string, totalUsers: number) => void): void
  /** Forgets everything `nodeId` reported (a node shutting down says goodbye). */
  removeNode(nodeId: string): Promise<void>
  close(): Promise<void>
}

export interface PresenceChange {
  /** The user's first socket on the session anywhere (connect) or last one (disconnect). */
  changed: boolean
  /** Distinct users connected to the session afterwards, on every node. */
  totalUsers: number
}
