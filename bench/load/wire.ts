/**
 * How chat frames travel on a socket. Our server and the bare `ws` baseline carry the guide's JSON
 * frames as they are; Socket.IO wraps them in its own packets (`42["message",{…}]`) and adds a
 * handshake and heartbeat of its own. The load worker speaks both through this one interface, with
 * the same `ws` client, so that the generator spends the same effort per frame on every server and
 * the comparison measures the servers, not two client libraries.
 */
export type WireName = 'chat' | 'socket.io'

export interface WireEvents {
  /** Sends transport chatter (a heartbeat answer, the namespace connect) on the socket. */
  reply(text: string): void
  /** The socket may carry chat frames from now on. */
  onTransportReady(): void
}

export interface Wire {
  /** Whether chat frames may be sent as soon as the socket opens; if not, wait for `onTransportReady`. */
  readonly isReadyOnOpen: boolean
  /** A client chat frame (JSON text) as it goes on the wire. */
  encode(json: string): string
  /**
   * The chat frame inside a server frame, or undefined for transport chatter (answered here
   * through `events`). The result may carry wrapping around the JSON object; callers only search
   * it for fields (see `readFrame`).
   */
  unwrap(data: Buffer, events: WireEvents): Buffer | undefined
}

const chatWire: Wire = {
  isReadyOnOpen: true,
  encode: (json) => json,
  unwrap: (data) => data,
}

// Engine.IO v4 packet types (first character) and Socket.IO packet types (second character).
const EIO_OPEN = 0x30 // '0': handshake; we answer with a namespace connect
const EIO_PING = 0x32 // '2': heartbeat; answer '3' or the server drops us
const EIO_MESSAGE = 0x34 // '4': carries a Socket.IO packet
const SIO_CONNECT = 0x30 // '40…': the namespace accepted us
const SIO_EVENT = 0x32 // '42[…]': an event

const socketIoWire: Wire = {
  isReadyOnOpen: false,
  encode: (json) => `42["message",${json}]`,
  unwrap(data, events) {
    const type = data[0]
    if (type === EIO_MESSAGE) {
      if (data[1] === SIO_EVENT) return data.subarray(2)
      if (data[1] === SIO_CONNECT) events.onTransportReady()
      return undefined
    }
    if (type === EIO_PING) events.reply('3')
    else if (type === EIO_OPEN) events.reply('40')
    return undefined
  },
}

export function wireFor(name: WireName): Wire {
  return name === 'chat' ? chatWire : socketIoWire
}

export type FrameKind = 'message' | 'pong' | 'error' | 'other'

const MESSAGE_MARK = Buffer.from('"message_type":"message"')
const PONG_MARK = Buffer.from('"message_type":"pong"')
const ERROR_MARK = Buffer.from('"message_type":"error"')
const CLIENT_MESSAGE_ID_MARK = Buffer.from('"client_message_id":"')
const CODE_MARK = Buffer.from('"code":"')
const QUOTE = 0x22

export interface ServerFrameSummary {
  kind: FrameKind
  /** Of a `message`: the `client_message_id` it echoes; of an `error`, the send it refuses. */
  clientMessageId?: string
  /** Of an `error`: its code. */
  code?: string
}

/**
 * What a server frame is, and the one field the generator needs from it. A byte search rather
 * than `JSON.parse`: at tens of thousands of deliveries a second, parsing every frame in full would
 * make the generator, not the server, the bottleneck. Every server under test encodes with
 * `JSON.stringify`, so the marks appear exactly as written here.
 */
export function readFrame(frame: Buffer): ServerFrameSummary {
  if (frame.indexOf(MESSAGE_MARK) !== -1) {
    return { kind: 'message', clientMessageId: readString(frame, CLIENT_MESSAGE_ID_MARK) }
  }
  if (frame.indexOf(PONG_MARK) !== -1) return { kind: 'pong' }
  if (frame.indexOf(ERROR_MARK) !== -1) {
    return {
      kind: 'error',
      code: readString(frame, CODE_MARK),
      clientMessageId: readString(frame, CLIENT_MESSAGE_ID_MARK),
    }
  }
  return { kind: 'other' }
}

/** The string value right after `mark` (which ends with the opening quote). */
function readString(frame: Buffer, mark: Buffer): string | undefined {
  const start = frame.indexOf(mark)
  if (start === -1) return undefined
  const from = start + mark.length
  return frame.toString('latin1', from, frame.indexOf(QUOTE, from))
}
