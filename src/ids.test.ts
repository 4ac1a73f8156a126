import { describe, expect, it } from 'vitest'
import { newId } from './ids.js'

describe('new ids', () => {
  it('are version 7 UUIDs that sort by creation time', () => {
    const ids = [newId(1_700_000_000_000), newId(1_700_000_000_001), newId(1_800_000_000_000)]

    for (const id of ids)
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
    expect([...ids].sort()).toEqual(ids)
    expect(ids[0]!.slice(0, 13).replace('-', '')).toBe(
      (1_700_000_000_000).toString(16).padStart(12, '0'),
    )
  })

  it('do not repeat', () => {
    const ids = new Set(Array.from({ length: 5_000 }, () => newId(1_700_000_000_000)))

    expect(ids.size).toBe(5_000)
  })
})
