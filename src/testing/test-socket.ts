import WebSocket from 'ws'
import type { ServerFrame } from '../realtime/protocol.js'

/**
 * A raw socket for tests: records every frame, waits for the ones a test expects, and reports how
 * the socket closed. Raw on purpose, so tests see the exact wire shapes.
 */
export class TestSocket {
  readonly frames: ServerFrame[] = []
  readonly opened: Promise<void>
  readonly closed: Promise<{ code: number; reason: string }>
  readonly #ws: WebSocket
  readonly #waiters = new Set<() => void>()

  constructor(url: string, options: WebSocket.ClientOptions = {}) {
    this.#ws = new WebSocket(url, options)
    this.opened = new Promise((resolve, reject) => {
      this.#ws.once('open', () => resolve())
      this.#ws.once('error', reject)
    })
    this.closed = new Promise((resolve) =>
      this.#ws.once('close', (code, reason) => {
        resolve({ code, reason: reason.toString() })
        for (const wake of this.#waiters) wake()
      }),
    )
    this.#ws.on('error', () => undefined)
    this.#ws.on('message', (data: Buffer) => {
      this.frames.push(JSON.parse(data.toString()) as ServerFrame)
      for (const wake of this.#waiters) wake()
    })
  }

  get ws(): WebSocket {
    return this.#ws
  }

  send(frame: unknown): void {
    this.#ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame))
  }

  /** Frames of one type, in arrival order. */
  of<T extends ServerFrame['message_type']>(
    type: T,
  ): Array<Extract<ServerFrame, { message_type: T }>> {
    return this.frames.filter((f) => f.message_type === type) as Array<
      Extract<ServerFrame, { message_type: T }>
    >
  }

  /** Waits until `predicate` holds over the frames so far (or the socket closes, or time runs out). */
  async until(
    predicate: (frames: ServerFrame[]) => boolean,
    timeoutMs = 5_000,
    what = 'frames',
  ): Promise<void> {
    if (predicate(this.frames)) return
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.delete(check)
        reject(
          new Error(
            `timed out waiting for ${what}; got ${JSON.stringify(this.frames.map((f) => f.message_type))}`,
          ),
        )
      }, timeoutMs)
      const check = () => {
        if (predicate(this.frames) || this.#ws.readyState === WebSocket.CLOSED) {
          clearTimeout(timer)
          this.#waiters.delete(check)
          resolve()
        }
      }
      this.#waiters.add(check)
    })
  }

  /** The next frame of `type` after the first `skip` of them. */
  async next<T extends ServerFrame['message_type']>(
    type: T,
    index = 0,
    timeoutMs = 5_000,
  ): Promise<Extract<ServerFrame, { message_type: T }>> {
    await this.until(
      (frames) => frames.filter((f) => f.message_type === type).length > index,
      timeoutMs,
      type,
    )
    const frame = this.of(type)[index]
    if (frame === undefined) throw new Error(`socket closed before ${type} #${index}`)
    return frame
  }

  /**
   * A ping answered: the server has accepted the socket and handled everything sent before (on
   * the per-session socket, that includes joining the session).
   */
  async roundTrip(): Promise<void> {
    const pongs = this.of('pong').length
    this.send({ message_type: 'ping' })
    await this.next('pong', pongs)
  }

  close(): Promise<{ code: number; reason: string }> {
    this.#ws.close()
    return this.closed
  }
}
