import { randomUUID } from 'node:crypto'
import { Redis } from 'ioredis'

const CHANNEL_PREFIX = 'bare-ws:'

/**
 * Several bare ws nodes serving one chat through Redis pub/sub, the way our server's bus does it
 * (`src/realtime/bus-redis.ts`): one channel per session, a node subscribed only while it has
 * sockets of that session, its own sockets served at once and the others through Redis, its own
 * copy skipped when Redis echoes it back. Nothing else: no presence across nodes, no order across
 * nodes (each node numbers its own sends, as Socket.IO's nodes do).
 */
export interface RedisRelay {
  /** Hears `sessionId` from now on: its first socket on this node joined. */
  join(sessionId: string): void
  /** Stops hearing it: its last socket on this node left. */
  leave(sessionId: string): void
  /** Sends `frame` (encoded once) to the other nodes' sockets of `sessionId`. */
  publish(sessionId: string, frame: Buffer): void
  close(): Promise<void>
}

/** From the environment: `REDIS_URL`, set when the server runs as one of several nodes. */
export function redisRelayFromEnv(
  deliver: (sessionId: string, frame: Buffer) => void,
): RedisRelay | undefined {
  const url = process.env.REDIS_URL
  if (url === undefined || url === '') return undefined
  // Each copy goes out behind its node's id, so the node that sent it knows it when it returns.
  const nodeId = Buffer.from(randomUUID())
  const publisher = new Redis(url)
  const subscriber = publisher.duplicate()
  subscriber.on('messageBuffer', (channel: Buffer, copy: Buffer) => {
    if (copy.subarray(0, nodeId.length).equals(nodeId)) return
    deliver(channel.toString('utf8', CHANNEL_PREFIX.length), copy.subarray(nodeId.length))
  })
  return {
    join: (sessionId) => void subscriber.subscribe(`${CHANNEL_PREFIX}${sessionId}`),
    leave: (sessionId) => void subscriber.unsubscribe(`${CHANNEL_PREFIX}${sessionId}`),
    publish: (sessionId, frame) =>
      void publisher.publish(`${CHANNEL_PREFIX}${sessionId}`, Buffer.concat([nodeId, frame])),
    close: async () => {
      publisher.disconnect()
      subscriber.disconnect()
    },
  }
}
