import type { WsStats } from '../chat/chat.schemas.js'
import type { Presence, PresenceChange } from './presence.js'

/**
 * Presence kept in this process: the single-node default. Several apps in one process (tests) may
 * share one instance; each reports under its own node id. Nodes cannot die without a goodbye here,
 * so `onExpired` never fires.
 */
export class MemoryPresence implements Presence {
  /** session → user → node → sockets */
  readonly #sockets = new Map<string, Map<string, Map<string, number>>>()
  /** session → users typing (with the node that reported it) */
  readonly #typing = new Map<string, Map<string, string>>()
  readonly #socketCounts = new Map<string, number>()

  connect(nodeId: string, sessionId: string, userId: string): Promise<PresenceChange> {
    const users = getOrCreate(
      this.#sockets,
      sessionId,
      () => new Map<string, Map<string, number>>(),
    )
    const nodes = getOrCreate(users, userId, () => new Map<string, number>())
    const changed = nodes.size === 0
    nodes.set(nodeId, (nodes.get(nodeId) ?? 0) + 1)
    return Promise.resolve({ changed, totalUsers: users.size })
  }

  disconnect(nodeId: string, sessionId: string, userId: string): Promise<PresenceChange> {
    const users = this.#sockets.get(sessionId)
    const nodes = users?.get(userId)
    if (users === undefined || nodes === undefined) {
      return Promise.resolve({ changed: false, totalUsers: users?.size ?? 0 })
    }
    const left = (nodes.get(nodeId) ?? 0) - 1
    if (left > 0) nodes.set(nodeId, left)
    else nodes.delete(nodeId)
    const changed = nodes.size === 0
    if (changed) users.delete(userId)
    if (users.size === 0) this.#sockets.delete(sessionId)
    return Promise.resolve({ changed, totalUsers: users.size })
  }

  setTyping(nodeId: string, sessionId: string, userId: string, isTyping: boolean): Promise<void> {
    const typing = getOrCreate(this.#typing, sessionId, () => new Map<string, string>())
    if (isTyping) typing.set(userId, nodeId)
    else typing.delete(userId)
    if (typing.size === 0) this.#typing.delete(sessionId)
    return Promise.resolve()
  }

  setSocketCount(nodeId: string, count: number): void {
    this.#socketCounts.set(nodeId, count)
  }

  users(sessionId: string): Promise<ReadonlySet<string>> {
    return Promise.resolve(new Set(this.#sockets.get(sessionId)?.keys()))
  }

  stats(): Promise<WsStats> {
    const sessions: WsStats['sessions'] = {}
    let userTotal = 0
    for (const [sessionId, users] of this.#sockets) {
      sessions[sessionId] = {
        user_count: users.size,
        typing_count: this.#typing.get(sessionId)?.size ?? 0,
      }
      userTotal += users.size
    }
    const sessionCount = Object.keys(sessions).length
    let totalConnections = 0
    for (const count of this.#socketCounts.values()) totalConnections += count
    return Promise.resolve({
      total_sessions: sessionCount,
      total_connections: totalConnections,
      average_users_per_session: sessionCount === 0 ? 0 : round2(userTotal / sessionCount),
      sessions,
      nodes: Math.max(1, this.#socketCounts.size),
    })
  }

  onExpired(): void {}

  removeNode(nodeId: string): Promise<void> {
    this.#socketCounts.delete(nodeId)
    for (const [sessionId, users] of this.#sockets) {
      for (const [userId, nodes] of users) {
        nodes.delete(nodeId)
        if (nodes.size === 0) users.delete(userId)
      }
      if (users.size === 0) this.#sockets.delete(sessionId)
    }
    for (const [sessionId, typing] of this.#typing) {
      for (const [userId, node] of typing) if (node === nodeId) typing.delete(userId)
      if (typing.size === 0) this.#typing.delete(sessionId)
    }
    return Promise.resolve()
  }

  close(): Promise<void> {
    return Promise.resolve()
  }
}

export const round2 = (n: number) => Math.round(n * 100) / 100

function getOrCreate<K, V>(map: Map<K, V>, key: K, create: () => V): V {
  let value = map.get(key)
  if (value === undefined) map.set(key, (value = create()))
  return value
}
