import { Redis } from 'ioredis'
import type { Logger } from 'pino'
import type { WsStats } from '../chat/chat.schemas.js'
import { AppError } from '../errors.js'
import type { Presence, PresenceChange } from './presence.js'
import { round2 } from './presence-memory.js'

export interface RedisPresenceOptions {
  url: string
  nodeId: string
  /** Prepended to every key (`REDIS_PREFIX`). */
  prefix?: string
  /** A node silent this long is dead: its users leave every count. */
  nodeTimeoutMs: number
  logger: Logger
}

/*
 * Keys (all under the prefix):
 *   chat:presence:{session}       hash  "{node}|{user}" → 1     who is connected where
 *   chat:typing:{session}         hash  "{node}|{user}" → 1     who is typing where
 *   chat:presence:sessions        set   sessions with anyone connected
 *   chat:node:{node}:sessions     set   sessions a node has reported into (for reaping it)
 *   chat:nodes                    hash  node → last heartbeat (ms)
 *   chat:node-sockets             hash  node → open sockets
 * The scripts keep each session's hash and the sets consistent in one step, and answer whether a
 * user's first (or last) connection anywhere was the one just made (or closed).
 */
const DISTINCT_USERS = `
local function scan(key, node, user)
  local users, count, present, nodeHas = {}, 0, false, false
  for _, field in ipairs(redis.call('HKEYS', key)) do
    local sep = string.find(field, '|', 1, true)
    local n, u = string.sub(field, 1, sep - 1), string.sub(field, sep + 1)
    if u == user then present = true end
    if n == node then nodeHas = true end
    if not users[u] then users[u] = true; count = count + 1 end
  end
  return count, present, nodeHas
end
`

const CONNECT = `${DISTINCT_USERS}
local count, present = scan(KEYS[1], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[1], ARGV[1] .. '|' .. ARGV[2], '1')
redis.call('SADD', KEYS[2], ARGV[3])
redis.call('SADD', KEYS[3], ARGV[3])
if not present then count = count + 1 end
return {present and 0 or 1, count}`

const DISCONNECT = `${DISTINCT_USERS}
redis.call('HDEL', KEYS[1], ARGV[1] .. '|' .. ARGV[2])
local count, present, nodeHas = scan(KEYS[1], ARGV[1], ARGV[2])
if count == 0 then redis.call('SREM', KEYS[2], ARGV[3]) end
if not nodeHas then redis.call('SREM', KEYS[3], ARGV[3]) end
return {present and 0 or 1, count}`

/** Removes a dead node from one session; returns {users left, ...users who vanished with it}. */
const REAP_SESSION = `
local prefix = ARGV[1] .. '|'
local gone, remaining, count = {}, {}, 0
for _, field in ipairs(redis.call('HKEYS', KEYS[1])) do
  local sep = string.find(field, '|', 1, true)
  local n, u = string.sub(field, 1, sep - 1), string.sub(field, sep + 1)
  if n == ARGV[1] then
    redis.call('HDEL', KEYS[1], field)
    gone[u] = true
  elseif not remaining[u] then
    remaining[u] = true
    count = count + 1
  end
end
for _, field in ipairs(redis.call('HKEYS', KEYS[2])) do
  if string.sub(field, 1, #prefix) == prefix then redis.call('HDEL', KEYS[2], field) end
end
if count == 0 then redis.call('SREM', KEYS[3], ARGV[2]) end
local result = {count}
for u in pairs(gone) do
  if not remaining[u] then table.insert(result, u) end
end
return result`

type ExpiredListener = (sessionId: string, userId: string, totalUsers: number) => void

/**
 * Presence over every node, kept in Redis. Each node writes what it has and a heartbeat; any node
 * reaps a node whose heartbeat is older than `nodeTimeoutMs` (under a lock, so once), and tells its
 * hub which users vanished with it so `user_left` goes out.
 *
 * The node also remembers its own share in memory: while Redis is away it answers from that share
 * (its own sockets keep their presence frames), and when Redis is back it writes the share again,
 * since a restarted Redis has forgotten everything.
 */
export class RedisPresence implements Presence {
  readonly #redis: Redis
  readonly #options: RedisPresenceOptions
  readonly #prefix: string
  readonly #timer: NodeJS.Timeout
  readonly #expiredListeners: ExpiredListener[] = []
  /** This node's own share: session → users. */
  readonly #local = new Map<string, Set<string>>()
  #socketCount = 0
  #connectedSince = Date.now()
  #socketCountWrite: NodeJS.Immediate | undefined

  constructor(options: RedisPresenceOptions) {
    this.#options = options
    this.#prefix = options.prefix ?? ''
    this.#redis = new Redis(options.url, {
      retryStrategy: (attempt: number) => Math.min(100 * 2 ** Math.min(attempt, 5), 2_000),
      maxRetriesPerRequest: 1,
      enableOfflineQueue: false,
    })
    this.#redis.on('error', (error: Error) =>
      options.logger.debug({ err: error }, 'redis presence error'),
    )
    this.#redis.on('ready', () => {
      this.#connectedSince = Date.now()
      void this.#restoreShare()
    })
    this.#redis.defineCommand('presenceConnect', { numberOfKeys: 3, lua: CONNECT })
    this.#redis.defineCommand('presenceDisconnect', { numberOfKeys: 3, lua: DISCONNECT })
    this.#redis.defineCommand('presenceReap', { numberOfKeys: 3, lua: REAP_SESSION })
    const beatMs = Math.max(250, Math.floor(options.nodeTimeoutMs / 4))
    this.#timer = setInterval(() => void this.#beat(), beatMs)
    this.#timer.unref()
  }

  async connect(nodeId: string, sessionId: string, userId: string): Promise<PresenceChange> {
    const users = this.#local.get(sessionId) ?? new Set<string>()
    this.#local.set(sessionId, users)
    const wasLocal = users.has(userId)
    users.add(userId)
    try {
      const [changed, total] = (await this.#run('presenceConnect', sessionId, nodeId, userId)) as [
        number,
        number,
      ]
      return { changed: changed === 1, totalUsers: total }
    } catch {
      return { changed: !wasLocal, totalUsers: users.size }
    }
  }

  async disconnect(nodeId: string, sessionId: string, userId: string): Promise<PresenceChange> {
    const users = this.#local.get(sessionId)
    users?.delete(userId)
    if (users?.size === 0) this.#local.delete(sessionId)
    try {
      const [changed, total] = (await this.#run(
        'presenceDisconnect',
        sessionId,
        nodeId,
        userId,
      )) as [number, number]
      return { changed: changed === 1, totalUsers: total }
    } catch {
      return { changed: true, totalUsers: users?.size ?? 0 }
    }
  }

  async setTyping(
    nodeId: string,
    sessionId: string,
    userId: string,
    isTyping: boolean,
  ): Promise<void> {
    const key = this.#key(`chat:typing:${sessionId}`)
    const field = `${nodeId}|${userId}`
    await (isTyping ? this.#redis.hset(key, field, '1') : this.#redis.hdel(key, field))
  }

  setSocketCount(_nodeId: string, count: number): void {
    this.#socketCount = count
    // Many sockets open in one tick: one write.
    if (this.#socketCountWrite !== undefined) return
    this.#socketCountWrite = setImmediate(() => {
      this.#socketCountWrite = undefined
      this.#redis
        .hset(this.#key('chat:node-sockets'), this.#options.nodeId, String(this.#socketCount))
        .catch(() => undefined)
    })
  }

  /** Everyone online in the session; while Redis is away, those on this node (all it can know). */
  async users(sessionId: string): Promise<ReadonlySet<string>> {
    try {
      const [live, fields] = await Promise.all([
        this.#liveNodes(),
        this.#redis.hkeys(this.#key(`chat:presence:${sessionId}`)),
      ])
      return distinctUsers(fields, live)
    } catch {
      return new Set(this.#local.get(sessionId))
    }
  }

  async stats(): Promise<WsStats> {
    try {
      return await this.#clusterStats()
    } catch (error) {
      throw new AppError(
        'unavailable',
        'Counts over every node need Redis, which is not reachable right now.',
        {
          cause: error,
        },
      )
    }
  }

  async #clusterStats(): Promise<WsStats> {
    const live = await this.#liveNodes()
    const [sockets, sessionIds] = await Promise.all([
      this.#redis.hgetall(this.#key('chat:node-sockets')),
      this.#redis.smembers(this.#key('chat:presence:sessions')),
    ])
    const pipeline = this.#redis.pipeline()
    for (const id of sessionIds) {
      pipeline.hkeys(this.#key(`chat:presence:${id}`))
      pipeline.hkeys(this.#key(`chat:typing:${id}`))
    }
    const replies = ((await pipeline.exec()) ?? []).map(([, fields]) => fields as string[])
    const sessions: WsStats['sessions'] = {}
    let userTotal = 0
    sessionIds.forEach((id, i) => {
      const userCount = distinctUsers(replies[2 * i] ?? [], live).size
      if (userCount === 0) return
      sessions[id] = {
        user_count: userCount,
        typing_count: distinctUsers(replies[2 * i + 1] ?? [], live).size,
      }
      userTotal += userCount
    })
    const sessionCount = Object.keys(sessions).length
    let connections = 0
    for (const [node, count] of Object.entries(sockets))
      if (live.has(node)) connections += Number(count)
    return {
      total_sessions: sessionCount,
      total_connections: connections,
      average_users_per_session: sessionCount === 0 ? 0 : round2(userTotal / sessionCount),
      sessions,
      nodes: live.size,
    }
  }

  onExpired(listener: ExpiredListener): void {
    this.#expiredListeners.push(listener)
  }

  async removeNode(nodeId: string): Promise<void> {
    if (nodeId === this.#options.nodeId) this.#local.clear()
    await this.#reap(nodeId).catch((error: unknown) => {
      this.#options.logger.warn({ err: error }, 'could not remove this node from presence')
    })
  }

  async close(): Promise<void> {
    clearInterval(this.#timer)
    await this.#redis.quit().catch(() => undefined)
  }

  /** Heartbeat, then reap nodes that stopped beating. */
  async #beat(): Promise<void> {
    const { nodeId, nodeTimeoutMs, logger } = this.#options
    try {
      await this.#redis
        .multi()
        .hset(this.#key('chat:nodes'), nodeId, String(Date.now()))
        .hset(this.#key('chat:node-sockets'), nodeId, String(this.#socketCount))
        .exec()
      // Right after an outage every heartbeat is old; give the live nodes time to beat again.
      if (Date.now() - this.#connectedSince < nodeTimeoutMs) return
      const beats = await this.#redis.hgetall(this.#key('chat:nodes'))
      for (const [node, at] of Object.entries(beats)) {
        if (node === nodeId || Date.now() - Number(at) < nodeTimeoutMs) continue
        const lock = await this.#redis.set(
          this.#key(`chat:reap:${node}`),
          nodeId,
          'PX',
          nodeTimeoutMs,
          'NX',
        )
        if (lock === 'OK') await this.#reap(node)
      }
    } catch (error) {
      logger.debug({ err: error }, 'presence heartbeat failed')
    }
  }

  /** Forgets `node` everywhere; users who were only there leave. */
  async #reap(node: string): Promise<void> {
    const sessions = await this.#redis.smembers(this.#key(`chat:node:${node}:sessions`))
    for (const sessionId of sessions) {
      const [remaining, ...gone] = (await (
        this.#redis as unknown as Record<string, (...args: string[]) => Promise<unknown>>
      ).presenceReap!(
        this.#key(`chat:presence:${sessionId}`),
        this.#key(`chat:typing:${sessionId}`),
        this.#key('chat:presence:sessions'),
        node,
        sessionId,
      )) as [number, ...string[]]
      if (node === this.#options.nodeId) continue
      for (const userId of gone)
        for (const listener of this.#expiredListeners) listener(sessionId, userId, remaining)
    }
    await this.#redis
      .multi()
      .del(this.#key(`chat:node:${node}:sessions`))
      .hdel(this.#key('chat:nodes'), node)
      .hdel(this.#key('chat:node-sockets'), node)
      .exec()
    if (node !== this.#options.nodeId)
      this.#options.logger.info({ node }, 'removed a silent node from presence')
  }

  /** After (re)connecting: write this node's share again. */
  async #restoreShare(): Promise<void> {
    try {
      for (const [sessionId, users] of this.#local) {
        for (const userId of users)
          await this.#run('presenceConnect', sessionId, this.#options.nodeId, userId)
      }
      await this.#beat()
    } catch (error) {
      this.#options.logger.debug({ err: error }, 'could not restore presence yet')
    }
  }

  async #liveNodes(): Promise<Set<string>> {
    const beats = await this.#redis.hgetall(this.#key('chat:nodes'))
    const live = new Set([this.#options.nodeId])
    for (const [node, at] of Object.entries(beats)) {
      if (Date.now() - Number(at) < this.#options.nodeTimeoutMs) live.add(node)
    }
    return live
  }

  #run(
    command: 'presenceConnect' | 'presenceDisconnect',
    sessionId: string,
    nodeId: string,
    userId: string,
  ): Promise<unknown> {
    const run = (this.#redis as unknown as Record<string, (...args: string[]) => Promise<unknown>>)[
      command
    ]!
    return run.call(
      this.#redis,
      this.#key(`chat:presence:${sessionId}`),
      this.#key('chat:presence:sessions'),
      this.#key(`chat:node:${nodeId}:sessions`),
      nodeId,
      userId,
      sessionId,
    )
  }

  #key(key: string): string {
    return this.#prefix + key
  }
}

/** Users in "{node}|{user}" fields, counting only live nodes. */
function distinctUsers(fields: readonly string[], live: ReadonlySet<string>): Set<string> {
  const users = new Set<string>()
  for (const field of fields) {
    const sep = field.indexOf('|')
    if (live.has(field.slice(0, sep))) users.add(field.slice(sep + 1))
  }
  return users
}
