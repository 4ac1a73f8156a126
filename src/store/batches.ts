/**
 * Gathers what arrives in one turn of the event loop into a batch and hands it to `handle`, with at
 * most `maxInFlight` batches handled at once: while they are busy the next batch keeps gathering,
 * so batches grow with the load instead of queueing one by one.
 */
export class Batches<T> {
  #queue: T[] = []
  #inFlight = 0
  #isScheduled = false

  constructor(
    private readonly maxInFlight: number,
    private readonly handle: (batch: T[]) => Promise<void>,
  ) {}

  add(item: T): void {
    this.#queue.push(item)
    this.#schedule()
  }

  #schedule(): void {
    if (this.#isScheduled || this.#queue.length === 0 || this.#inFlight >= this.maxInFlight) return
    this.#isScheduled = true
    setImmediate(() => {
      this.#isScheduled = false
      const batch = this.#queue
      this.#queue = []
      this.#inFlight += 1
      void this.handle(batch).finally(() => {
        this.#inFlight -= 1
        this.#schedule()
      })
    })
  }
}
