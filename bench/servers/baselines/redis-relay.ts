import { Redis } from 'ioredis'

const CHANNEL_PREFIX = 'bare-ws:'

/**
 * Several bare ws nodes serving one chat: every broadcast goes through Redis pub/sub, one channel
 * per session, and each node hands what arrives to its own sockets of that session, its own
 * messages included (one delivery path, as our server's bus has). Nothing else: no presence
 * across nodes, no order across nodes (each node numbers its own sends, as Socket.IO's nodes do).
 */
export interface RedisRelay {
  /** Sends `frame` (encoded once) to every node's sockets of `sessionId`. */
  publish(sessionId: string, frame: Buffer): void
  close(): Promise<void>
}

/** From the environment: `REDIS_URL`, set when the server runs as one of several nodes. */
export async function redisRelayFromEnv(
  deliver: (sessionId: string, frame: Buffer) => void,
): Promise<RedisRelay | undefined> {
  const url = process.env.REDIS_URL
  if (url === undefined || url === '') return undefined
  const publisher = new Redis(url)
  const subscriber = publisher.duplicate()
  subscriber.on('pmessageBuffer', (_pattern: Buffer, channel: Buffer, frame: Buffer) =>
    deliver(channel.toString('utf8').slice(CHANNEL_PREFIX.length), frame),
  )
  await subscriber.psubscribe(`${CHANNEL_PREFIX}*`)
  return {
    publish: (sessionId, frame) => void publisher.publish(`${CHANNEL_PREFIX}${sessionId}`, frame),
    close: async () => {
      publisher.disconnect()
      subscriber.disconnect()
    },
  }
}
