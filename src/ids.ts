import { randomFillSync } from 'node:crypto'

const POOL_IDS = 256
const pool = Buffer.alloc(16 * POOL_IDS)
let next = POOL_IDS
const HEX = Buffer.from('0123456789abcdef')
/** Where each of the 16 bytes goes in the 36 characters of `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`. */
const AT = [0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34]
const text = Buffer.from('00000000-0000-0000-0000-000000000000')

/**
 * A new id: a UUID version 7 (RFC 9562), the creation time in milliseconds followed by random
 * bits. Ids made later sort later, so each new row lands at the end of its B-tree instead of on a
 * random page: fewer pages written per insert, on SQLite and PostgreSQL alike.
 *
 * Written into one buffer and read out as one string: every message makes an id, and building it
 * from 20 pieces left as many short-lived strings for the garbage collector.
 */
export function newId(now: number = Date.now()): string {
  if (next === POOL_IDS) {
    randomFillSync(pool)
    next = 0
  }
  const at = 16 * next++
  pool.writeUIntBE(now, at, 6)
  pool[at + 6] = (pool[at + 6]! & 0x0f) | 0x70
  pool[at + 8] = (pool[at + 8]! & 0x3f) | 0x80
  for (let i = 0; i < 16; i++) {
    const byte = pool[at + i]!
    text[AT[i]!] = HEX[byte >> 4]!
    text[AT[i]! + 1] = HEX[byte & 0x0f]!
  }
  return text.toString('latin1')
}
