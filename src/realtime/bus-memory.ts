import type { Bus } from './bus.js'
import type { ChatEvent } from '../chat/chat-events.js'

/**
 * The single-node bus: an in-process channel map. Pick it when one process serves everything (the
 * embedded default); events are handed back on a later microtask, as a network bus would, in
 * publish order per channel. Several apps in one process (tests) may share one instance.
 */
export class MemoryBus implements Bus {
  readonly #channels = new Map<string, Set<(event: ChatEvent) => void>>()

  publish(channel: string, event: ChatEvent): Promise<void> {
    const handlers = this.#channels.get(channel)
    // No copy of the set: handlers run later, so none can change it while this loop runs.
    if (handlers !== undefined) for (const handler of handlers) queueMicrotask(() => handler(event))
    return Promise.resolve()
  }

  subscribe(channel: string, onEvent: (event: ChatEvent) => void): Promise<() => Promise<void>> {
    // Each subscription is its own entry, so one function subscribed twice needs two unsubscribes.
    const handler = (event: ChatEvent) => onEvent(event)
    let handlers = this.#channels.get(channel)
    if (handlers === undefined) this.#channels.set(channel, (handlers = new Set()))
    handlers.add(handler)
    return Promise.resolve(() => {
      handlers.delete(handler)
      if (handlers.size === 0 && this.#channels.get(channel) === handlers)
        this.#channels.delete(channel)
      return Promise.resolve()
    })
  }

  isHealthy(): boolean {
    return true
  }

  onReconnect(): void {}

  close(): Promise<void> {
    this.#channels.clear()
    return Promise.resolve()
  }
}
