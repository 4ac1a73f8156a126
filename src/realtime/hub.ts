import type { Logger } from 'pino'
import type { WsStats } from '../chat/chat.schemas.js'
import type { PresenceView } from '../chat/presence.js'
import type { Metrics } from '../metrics.js'
import type { Store } from '../store/store.js'
import type { Bus } from './bus.js'
import type { Presence } from './presence.js'

export interface HubOptions {
  nodeId: string
  bus: Bus
  presence: Presence
  store: Store
  metrics: Metrics
  logger: Logger
}

/** This node's sockets, by session, and the cluster-wide view of them. */
export class Hub implements PresenceView {
  readonly #options: HubOptions

  constructor(options: HubOptions) {
    this.#options = options
  }

  onlineUsers(sessionId: string): Promise<ReadonlySet<string>> {
    return this.#options.presence.users(sessionId)
  }

  stats(): Promise<WsStats> {
    return this.#options.presence.stats()
  }

  async close(): Promise<void> {
    await this.#options.presence.removeNode(this.#options.nodeId)
  }
}
