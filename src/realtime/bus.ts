import type { ChatEvent } from '../chat/chat-events.js'

/**
 * Fan-out between nodes. At most once: an event may be lost (a Redis outage), never invented or
 * reordered within a channel by the bus itself. Nothing depends on the bus for durability: a node
 * that misses a message catches up from the store by `seq`.
 *
 * A node delivers to its own sockets only what the bus hands back, even with `MemoryBus`: there is
 * one delivery path, with no local shortcut to keep consistent with it.
 */
export interface Bus {
  /** Resolves once the event is handed to the transport (one round trip for Redis). */
  publish(channel: string, event: ChatEvent): Promise<void>
  /** Calls `onEvent` for every event published on `channel` from now on; returns the unsubscribe. */
  subscribe(channel: string, onEvent: (event: ChatEvent) => void): Promise<() => Promise<void>>
  /** True while events flow; false while the transport is reconnecting. */
  isHealthy(): boolean
  /** Called after the transport comes back from an outage, when events may have been missed. */
  onReconnect(listener: () => void): void
  close(): Promise<void>
}
