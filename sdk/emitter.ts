/**
 * A minimal typed event emitter that runs in browsers, React Native and Node alike. `Events` maps
 * each event name to its payload. A listener that throws does not disturb the emitter or the other
 * listeners: its error is rethrown on a later tick, where the host reports it.
 */
export class Emitter<Events extends object> {
  readonly #listeners = new Map<keyof Events, Set<(payload: never) => void>>()

  /** Calls `listener` on every `event` until the returned function is called. */
  on<K extends keyof Events>(event: K, listener: (payload: Events[K]) => void): () => void {
    let listeners = this.#listeners.get(event)
    if (listeners === undefined) {
      listeners = new Set()
      this.#listeners.set(event, listeners)
    }
    listeners.add(listener)
    return () => this.#listeners.get(event)?.delete(listener)
  }

  emit<K extends keyof Events>(event: K, payload: Events[K]): void {
    const listeners = this.#listeners.get(event) as Set<(payload: Events[K]) => void> | undefined
    for (const listener of [...(listeners ?? [])]) {
      try {
        listener(payload)
      } catch (error) {
        setTimeout(() => {
          throw error
        })
      }
    }
  }

  removeAll(): void {
    this.#listeners.clear()
  }
}
