import { Redis } from 'ioredis'
import type { Logger } from 'pino'
import type { ChatEvent } from '../chat/chat-events.js'
import type { Bus } from './bus.js'

export interface RedisBusOptions {
  url: string
  /** Prepended to every channel name (`REDIS_PREFIX`). */
  prefix?: string
  /** This node's id: its own events come back from Redis and are skipped by it. */
  nodeId: string
  logger: Logger
}

type Handler = (event: ChatEvent) => void

/**
 * The many-node bus: Redis pub/sub, one channel per session, so a node hears only the sessions it
 * has sockets for (SUBSCRIBE when a session's first local socket joins, UNSUBSCRIBE when its last
 * one leaves). Pick it whenever more than one node serves the chat.
 *
 * Delivery: each event is handed to this node's own subscribers at once and published to Redis for
 * the others (one round trip, pipelined with whatever else is sent in the same tick); the copy Redis
 * echoes back to its sender is skipped. That local hand-off is deliberate: it keeps a node serving
 * its own sockets while Redis is away (CONTRACT.md), and spares the common case, a session whose
 * sockets share one node behind a session-hashing proxy, a round trip through Redis.
 *
 * At most once: events published while Redis is unreachable reach only this node. Hubs catch up
 * from the store by `seq` when `onReconnect` fires, so no message is lost for good.
 */
export class RedisBus implements Bus {
  readonly #publisher: Redis
  readonly #subscriber: Redis
  readonly #handlers = new Map<string, Set<Handler>>()
  readonly #reconnectListeners: Array<() => void> = []
  readonly #origin: string
  readonly #log: Logger
  readonly #prefix: string
  #hasBeenDown = false
  #isClosing = false

  constructor(options: RedisBusOptions) {
    this.#log = options.logger
    this.#prefix = options.prefix ?? ''
    this.#origin = `${options.nodeId}\n`
    const common = {
      lazyConnect: false,
      // Retry for ever, backing off to 2 s: an outage ends when Redis is back, not when we give up.
      retryStrategy: (attempt: number) => Math.min(100 * 2 ** Math.min(attempt, 5), 2_000),
      maxRetriesPerRequest: 1,
    }
    // A publish while Redis is down fails at once instead of queueing: the store is the authority.
    this.#publisher = new Redis(options.url, {
      ...common,
      enableOfflineQueue: false,
      enableAutoPipelining: true,
    })
    this.#subscriber = new Redis(options.url, { ...common, autoResubscribe: true })
    for (const client of [this.#publisher, this.#subscriber]) {
      client.on('error', (error: Error) =>
        this.#log.debug({ err: error }, 'redis connection error'),
      )
    }
    this.#subscriber.on('close', () => {
      if (!this.#isClosing && !this.#hasBeenDown) {
        this.#hasBeenDown = true
        this.#log.warn('redis bus disconnected; serving this node only until it is back')
      }
    })
    this.#subscriber.on('ready', () => {
      // Every channel this node wants, including those noted while Redis was away (ioredis
      // resubscribes only what had succeeded). Subscribing twice is harmless.
      const channels = [...this.#handlers.keys()].map((channel) => this.#prefix + channel)
      if (channels.length > 0) {
        this.#subscriber.subscribe(...channels).catch((error: unknown) => {
          this.#log.warn({ err: error }, 'could not subscribe again after reconnecting')
        })
      }
      if (!this.#hasBeenDown) return
      this.#hasBeenDown = false
      this.#log.info('redis bus reconnected; catching up from the store')
      for (const listener of this.#reconnectListeners) listener()
    })
    this.#subscriber.on('message', (channel: string, payload: string) =>
      this.#receive(channel.slice(this.#prefix.length), payload),
    )
  }

  /** Resolves once both connections are ready (start-up waits for it). */
  async ready(): Promise<void> {
    await Promise.all(
      [this.#publisher, this.#subscriber].map(
        (client) =>
          new Promise<void>((resolve) => {
            if (client.status === 'ready') resolve()
            else client.once('ready', () => resolve())
          }),
      ),
    )
  }

  async publish(channel: string, event: ChatEvent): Promise<void> {
    // Later, as a network would: a publisher never runs its subscribers inside its own call.
    queueMicrotask(() => this.#deliver(channel, event))
    await this.#publisher.publish(this.#prefix + channel, this.#origin + JSON.stringify(event))
  }

  async subscribe(channel: string, onEvent: Handler): Promise<() => Promise<void>> {
    const handler: Handler = (event) => onEvent(event)
    let handlers = this.#handlers.get(channel)
    if (handlers === undefined) {
      this.#handlers.set(channel, (handlers = new Set()))
      // While Redis is away the channel is only noted: the reconnect subscribes to every noted
      // channel, and this node's own events flow meanwhile. No socket waits for Redis.
      if (this.#subscriber.status === 'ready') {
        try {
          await this.#subscriber.subscribe(this.#prefix + channel)
        } catch (error) {
          this.#log.debug({ err: error, channel }, 'subscribe deferred until redis is back')
        }
      }
    }
    handlers.add(handler)
    return async () => {
      handlers.delete(handler)
      if (handlers.size > 0 || this.#handlers.get(channel) !== handlers) return
      this.#handlers.delete(channel)
      await this.#subscriber.unsubscribe(this.#prefix + channel).catch(() => undefined)
    }
  }

  isHealthy(): boolean {
    return this.#subscriber.status === 'ready' && this.#publisher.status === 'ready'
  }

  onReconnect(listener: () => void): void {
    this.#reconnectListeners.push(listener)
  }

  async close(): Promise<void> {
    this.#isClosing = true
    this.#handlers.clear()
    await Promise.all(
      [this.#publisher.quit(), this.#subscriber.quit()].map((p) => p.catch(() => undefined)),
    )
  }

  #receive(channel: string, payload: string): void {
    if (payload.startsWith(this.#origin)) return
    let event: ChatEvent
    try {
      event = JSON.parse(payload.slice(payload.indexOf('\n') + 1)) as ChatEvent
    } catch (error) {
      this.#log.warn({ err: error, channel }, 'skipped a malformed bus message')
      return
    }
    this.#deliver(channel, event)
  }

  #deliver(channel: string, event: ChatEvent): void {
    const handlers = this.#handlers.get(channel)
    if (handlers === undefined) return
    for (const handler of handlers) {
      try {
        handler(event)
      } catch (error) {
        this.#log.error({ err: error, channel }, 'a bus subscriber failed')
      }
    }
  }
}
