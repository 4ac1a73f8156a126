/**
 * A UUID version 7 (RFC 9562): the time in milliseconds, then random bits. It is the SDK's default
 * `client_message_id`, because the server indexes those ids: ids that grow with time land at one
 * end of that index, so the sends committed together share its pages instead of each writing a
 * random one. Built on Web Crypto alone, which browsers, Node.js and React Native (with its
 * `getRandomValues` polyfill, as `randomUUID` needed too) all have; the server makes its own ids
 * the same way with Node's buffers (`src/ids.ts`).
 */
export function timeOrderedId(now: number = Date.now()): string {
  const bytes = globalThis.crypto.getRandomValues(new Uint8Array(16))
  for (let i = 0; i < 6; i++) bytes[i] = Math.floor(now / 2 ** (8 * (5 - i))) % 256
  bytes[6] = (bytes[6]! & 0x0f) | 0x70
  bytes[8] = (bytes[8]! & 0x3f) | 0x80
  const hex = Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('')
  return [
    hex.slice(0, 8),
    hex.slice(8, 12),
    hex.slice(12, 16),
    hex.slice(16, 20),
    hex.slice(20),
  ].join('-')
}
