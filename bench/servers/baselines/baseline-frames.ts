import { randomUUID } from 'node:crypto'

/**
 * What the baselines share: the guide's frames, built the way our server builds them (same fields,
 * same sizes, one `JSON.stringify` per broadcast), and the process conventions every server under
 * test follows. The baselines do no authentication and store nothing: they are what a chat costs
 * in Node.js before any of the work our server does.
 */

export interface ClientFrame {
  message_type?: unknown
  content?: unknown
  client_message_id?: unknown
}

/** A session's broadcast order, as our `seq` (per node: the baselines keep no shared state). */
export class RoomSequence {
  #seq = 0

  next(): number {
    this.#seq += 1
    return this.#seq
  }
}

/** The guide's `message` frame, with the metadata our server gives a text message. */
export interface MessageFrame {
  message_type: 'message'
  chat_session_id: string
  user_id: string
  content: string
  timestamp: string
  metadata: {
    message_id: string
    seq: number
    reply_to_id: null
    mentions: null
    client_message_id: string | null
  }
}

export function messageFrame(
  sessionId: string,
  userId: string,
  seq: number,
  frame: ClientFrame,
): MessageFrame {
  return {
    message_type: 'message',
    chat_session_id: sessionId,
    user_id: userId,
    content: typeof frame.content === 'string' ? frame.content : '',
    timestamp: new Date().toISOString(),
    metadata: {
      message_id: randomUUID(),
      seq,
      reply_to_id: null,
      mentions: null,
      client_message_id:
        typeof frame.client_message_id === 'string' ? frame.client_message_id : null,
    },
  }
}

export function userJoinedFrame(sessionId: string, userId: string, totalUsers: number): object {
  return {
    message_type: 'user_joined',
    chat_session_id: sessionId,
    user_id: userId,
    timestamp: new Date().toISOString(),
    metadata: { total_users: totalUsers },
  }
}

export function pongFrame(): object {
  return { message_type: 'pong', timestamp: new Date().toISOString() }
}

/** Whether a client frame is a message to broadcast (`text` or `file`). */
export function isSendFrame(frame: ClientFrame): boolean {
  return frame.message_type === 'text' || frame.message_type === 'file'
}

/** The readiness line every server under test prints (see `ChildServer`). */
export function announceListening(name: string, port: number): void {
  process.stdout.write(
    `${JSON.stringify({ msg: `${name} listening on http://127.0.0.1:${port}` })}\n`,
  )
}

/** `ChildServer.stop` sends SIGTERM; exiting through `process.exit` lets `--cpu-prof` write. */
export function exitOnSignals(close: () => Promise<void>): void {
  const exit = () => {
    const deadline = setTimeout(() => process.exit(0), 2_000)
    deadline.unref()
    void close().finally(() => process.exit(0))
  }
  process.once('SIGTERM', exit)
  process.once('SIGINT', exit)
}

export function listenPort(): { port: number; host: string } {
  return { port: Number(process.env.PORT ?? 0), host: process.env.HOST ?? '127.0.0.1' }
}

export function parseFrame(data: string): ClientFrame | undefined {
  try {
    const frame: unknown = JSON.parse(data)
    return typeof frame === 'object' && frame !== null ? frame : undefined
  } catch {
    return undefined
  }
}
