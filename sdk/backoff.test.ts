import { describe, expect, it } from 'vitest'
import { Backoff } from './backoff.js'

describe('the backoff', () => {
  it('doubles the ceiling up to the maximum, with the delay anywhere below it', () => {
    const highest = new Backoff({ baseMs: 100, maxMs: 1_000, random: () => 0.999999 })
    const lowest = new Backoff({ baseMs: 100, maxMs: 1_000, random: () => 0 })

    const ceilings = Array.from({ length: 7 }, () => highest.next())
    const floors = Array.from({ length: 7 }, () => lowest.next())

    expect(ceilings).toEqual([99, 199, 399, 799, 999, 999, 999])
    expect(floors).toEqual([0, 0, 0, 0, 0, 0, 0])
  })

  it('is short again after a reset', () => {
    const backoff = new Backoff({ baseMs: 100, maxMs: 1_000, random: () => 0.5 })
    backoff.next()
    backoff.next()

    backoff.reset()

    expect(backoff.next()).toBe(50)
  })

  it('spreads clients: full jitter, not the same delay for everyone', () => {
    const delays = Array.from({ length: 50 }, () => new Backoff({ baseMs: 1_000 }).next())

    expect(new Set(delays).size).toBeGreaterThan(25)
    expect(Math.max(...delays)).toBeLessThan(1_000)
  })
})
