/**
 * Latency histogram with logarithmic buckets: each bucket is 1% wider than the one before, so any
 * percentile is exact to within 1% from 1 µs to over a minute, in a fixed 2,048 counters. Workers
 * record into their own and send the counters to the parent, which merges them; no samples are
 * kept, so a run of millions of deliveries costs nothing extra.
 */
export class LatencyHistogram {
  static readonly BUCKETS = 2_048
  static readonly #GROWTH = Math.log(1.01)

  readonly counts = new Uint32Array(LatencyHistogram.BUCKETS)
  #count = 0
  #maxMs = 0

  get count(): number {
    return this.#count
  }

  get maxMs(): number {
    return this.#maxMs
  }

  record(ms: number): void {
    const micros = Math.max(1, ms * 1_000)
    const index = Math.min(
      LatencyHistogram.BUCKETS - 1,
      Math.floor(Math.log(micros) / LatencyHistogram.#GROWTH),
    )
    this.counts[index]! += 1
    this.#count += 1
    if (ms > this.#maxMs) this.#maxMs = ms
  }

  merge(other: LatencyHistogram): void {
    other.counts.forEach((count, index) => {
      if (count > 0) this.counts[index]! += count
    })
    this.#count += other.count
    this.#maxMs = Math.max(this.#maxMs, other.maxMs)
  }

  /** The latency (ms) below which `fraction` of the recorded values fall; NaN when empty. */
  percentile(fraction: number): number {
    if (this.#count === 0) return Number.NaN
    const rank = Math.ceil(fraction * this.#count)
    let seen = 0
    for (let index = 0; index < LatencyHistogram.BUCKETS; index += 1) {
      seen += this.counts[index]!
      if (seen >= rank) return Math.min(LatencyHistogram.#upperMs(index), this.#maxMs)
    }
    return this.#maxMs
  }

  /** Compact form for IPC: the non-empty buckets as `[bucket, count]` pairs, and the exact max. */
  toSparse(): SparseHistogram {
    const buckets: Array<[number, number]> = []
    this.counts.forEach((count, index) => {
      if (count > 0) buckets.push([index, count])
    })
    return { buckets, maxMs: this.#maxMs }
  }

  static fromSparse(sparse: SparseHistogram): LatencyHistogram {
    const histogram = new LatencyHistogram()
    for (const [index, count] of sparse.buckets) {
      histogram.counts[index] = count
      histogram.#count += count
    }
    histogram.#maxMs = sparse.maxMs
    return histogram
  }

  static #upperMs(index: number): number {
    return Math.exp((index + 1) * LatencyHistogram.#GROWTH) / 1_000
  }
}

export interface SparseHistogram {
  buckets: Array<[number, number]>
  maxMs: number
}
