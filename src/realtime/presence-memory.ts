import type { WsStats } from '../chat/chat.schemas.js'
import type { Presence, PresenceChange } from './presence.js'

/**
 * Presence kept in this process: the single-node default. Several apps in one process (tests) may
 * share one instance; each reports under its own node id. Nodes cannot die without a goodbye here,
 * so `onExpired` never fires.
 */
export class MemoryPresence implements Presence {
  /** session → "node|user" → sockets */
  readonly #sockets = new Map<string, Map<string, number>>()
  /** session → users typing (with the node that reported it) */
  readonly #typing = new Map<string, Map<string, string>>()
  readonly #socketCounts = new Map<string, number>()

  connect(nodeId: string, sessionId: string, userId: string): Promise<PresenceChange> {
    const entries = getOrCreate(this.#sockets, sessionId, () => new Map<string, number>())
    const changed = !usersOf(entries).has(userId)
    const key = `${nodeId}|${userId}`
    entries.set(key, (entries.get(key) ?? 0) + 1)
    return Promise.resolve({ changed, totalUsers: usersOf(entries).size })
  }

  disconnect(nodeId: string, sessionId: string, userId: string): Promise<PresenceChange> {
    const entries = this.#sockets.get(sessionId)
    const key = `${nodeId}|${userId}`
    const count = entries?.get(key)
    if (entries === undefined || count === undefined) {
      return Promise.resolve({ changed: false, totalUsers: entries ? usersOf(entries).size : 0 })
    }
    if (count > 1) entries.set(key, count - 1)
    else entries.delete(key)
    if (entries.size === 0) this.#sockets.delete(sessionId)
    const users = usersOf(entries)
    return Promise.resolve({ changed: !users.has(userId), totalUsers: users.size })
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
    const entries = this.#sockets.get(sessionId)
    return Promise.resolve(entries ? usersOf(entries) : new Set<string>())
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
    for (const [sessionId, entries] of this.#sockets) {
      for (const key of entries.keys()) if (key.startsWith(`${nodeId}|`)) entries.delete(key)
      if (entries.size === 0) this.#sockets.delete(sessionId)
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

function usersOf(entries: Map<string, number>): Set<string> {
  const users = new Set<string>()
  for (const key of entries.keys()) users.add(key.slice(key.indexOf('|') + 1))
  return users
}

function getOrCreate<K, V>(map: Map<K, V>, key: K, create: () => V): V {
  let value = map.get(key)
  if (value === undefined) map.set(key, (value = create()))
  return value
}
