import { randomFillSync } from 'node:crypto'

const POOL_IDS = 256
const pool = Buffer.alloc(16 * POOL_IDS)
let next = POOL_IDS
const hex = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'))

/**
 * A new id: a UUID version 7 (RFC 9562), the creation time in milliseconds followed by random
 * bits. Ids made later sort later, so each new row lands at the end of its B-tree instead of on a
 * random page: fewer pages written per insert, on SQLite and PostgreSQL alike.
 */
export function newId(now: number = Date.now()): string {
  if (next === POOL_IDS) {
    randomFillSync(pool)
    next = 0
  }
  const at = 16 * next++
  const bytes = pool.subarray(at, at + 16)
  bytes.writeUIntBE(now, 0, 6)
  bytes[6] = (bytes[6]! & 0x0f) | 0x70
  bytes[8] = (bytes[8]! & 0x3f) | 0x80
  let id = ''
  for (let i = 0; i < 16; i++) {
    id += hex[bytes[i]!]
    if (i === 3 || i === 5 || i === 7 || i === 9) id += '-'
  }
  return id
}
