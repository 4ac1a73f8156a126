/**
 * A token bucket per key, in memory: `capacity` tokens, refilled at `refillPerSecond`. A key whose
 * bucket has filled up again holds no information, so idle keys are swept away and memory follows
 * the number of active keys, not of keys ever seen.
 */
export class RateLimiter {
  readonly #capacity: number
  readonly #refillPerMs: number
  readonly #now: () => number
  readonly #buckets = new Map<string, { tokens: number; updatedAt: number }>()
  #lastSweepAt: number

  constructor(options: { capacity: number; refillPerSecond: number; now?: () => number }) {
    this.#capacity = options.capacity
    this.#refillPerMs = options.refillPerSecond / 1000
    this.#now = options.now ?? Date.now
    this.#lastSweepAt = this.#now()
  }

  /** Takes a token if there is one. Otherwise says how long until there will be. */
  take(key: string): { allowed: true } | { allowed: false; retryAfterSeconds: number } {
    const bucket = this.#refill(key)
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1
      return { allowed: true }
    }
    return { allowed: false, retryAfterSeconds: this.#secondsUntilToken(bucket.tokens) }
  }

  /** Like `take`, but only looks. */
  check(key: string): { allowed: true } | { allowed: false; retryAfterSeconds: number } {
    const bucket = this.#refill(key)
    return bucket.tokens >= 1
      ? { allowed: true }
      : { allowed: false, retryAfterSeconds: this.#secondsUntilToken(bucket.tokens) }
  }

  /** Gives back a token taken for work that turned out to cost nothing. */
  refund(key: string): void {
    const bucket = this.#buckets.get(key)
    if (bucket !== undefined) bucket.tokens = Math.min(this.#capacity, bucket.tokens + 1)
  }

  reset(key: string): void {
    this.#buckets.delete(key)
  }

  #secondsUntilToken(tokens: number): number {
    return Math.max(1, Math.ceil((1 - tokens) / this.#refillPerMs / 1000))
  }

  #refill(key: string): { tokens: number; updatedAt: number } {
    const now = this.#now()
    this.#sweep(now)
    let bucket = this.#buckets.get(key)
    if (bucket === undefined) {
      bucket = { tokens: this.#capacity, updatedAt: now }
      this.#buckets.set(key, bucket)
      return bucket
    }
    bucket.tokens = Math.min(
      this.#capacity,
      bucket.tokens + (now - bucket.updatedAt) * this.#refillPerMs,
    )
    bucket.updatedAt = now
    return bucket
  }

  #sweep(now: number): void {
    const fullAfterMs = this.#capacity / this.#refillPerMs
    if (now - this.#lastSweepAt < Math.max(fullAfterMs, 60_000)) return
    this.#lastSweepAt = now
    for (const [key, bucket] of this.#buckets) {
      if (now - bucket.updatedAt >= fullAfterMs) this.#buckets.delete(key)
    }
  }
}
