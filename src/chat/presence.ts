import type { WsStats } from './chat.schemas.js'

/**
 * What the chat domain needs to know about live sockets, answered by the realtime hub over every
 * node. Kept here as an interface so the chat domain does not depend on the socket layer.
 */
export interface PresenceView {
  /** Users with an open socket on the session now, on any node. */
  onlineUsers(sessionId: string): Promise<ReadonlySet<string>>
  stats(): Promise<WsStats>
}
