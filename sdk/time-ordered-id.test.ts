import { describe, expect, it } from 'vitest'
import { timeOrderedId } from './time-ordered-id.js'

describe('timeOrderedId', () => {
  it('is a version 7 UUID that carries its time in its first 48 bits', () => {
    const at = Date.UTC(2026, 10, 29, 9, 30)
    const id = timeOrderedId(at)
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
    expect(parseInt(id.replace('-', '').slice(0, 12), 16)).toBe(at)
  })

  it('sorts as text in the order of its times, and differs within one millisecond', () => {
    const times = [1, 255, 256, 65_536, Date.UTC(2026, 0, 1), Date.UTC(2026, 0, 1) + 1]
    const ids = times.map((time) => timeOrderedId(time))
    expect([...ids].sort()).toEqual(ids)
    expect(timeOrderedId(5)).not.toBe(timeOrderedId(5))
  })
})
