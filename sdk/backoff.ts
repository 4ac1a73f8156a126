export interface BackoffOptions {
  /** Ceiling of the first delay, in ms; each further attempt doubles it. Default 500. */
  baseMs?: number
  /** Ceiling of any delay, in ms. Default 30 000. */
  maxMs?: number
  /** Uniform in [0, 1); replace it to make delays predictable in tests. Default `Math.random`. */
  random?: () => number
}

/**
 * Exponential backoff with full jitter: the n-th delay (counting from 0) is uniform in
 * [0, min(maxMs, baseMs · 2ⁿ)). The jitter spreads clients that all lost the same server, so its
 * restart is not met by every client at once.
 */
export class Backoff {
  readonly #baseMs: number
  readonly #maxMs: number
  readonly #random: () => number
  #attempt = 0

  constructor(options: BackoffOptions = {}) {
    this.#baseMs = options.baseMs ?? 500
    this.#maxMs = options.maxMs ?? 30_000
    this.#random = options.random ?? Math.random
  }

  /** The delay before the next attempt, in ms; each call counts as one attempt. */
  next(): number {
    const ceiling = Math.min(this.#maxMs, this.#baseMs * 2 ** this.#attempt)
    // Past the ceiling, doubling changes nothing; stop counting before 2ⁿ overflows.
    if (ceiling < this.#maxMs) this.#attempt += 1
    return Math.floor(this.#random() * ceiling)
  }

  /** After a success: the next delay is short again. */
  reset(): void {
    this.#attempt = 0
  }
}
