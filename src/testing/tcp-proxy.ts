import net from 'node:net'

/**
 * A loopback TCP proxy a test can cut and restore, to make PostgreSQL or Redis "unreachable"
 * without stopping the real server other tests use.
 */
export class TcpProxy {
  readonly #target: { host: string; port: number }
  readonly #sockets = new Set<net.Socket>()
  #server: net.Server | undefined
  #port = 0

  constructor(target: { host: string; port: number }) {
    this.#target = target
  }

  get port(): number {
    return this.#port
  }

  /** Starts forwarding (on the same port as before, after a `cut`). */
  async open(): Promise<void> {
    const server = net.createServer((client) => {
      const upstream = net.connect(this.#target)
      for (const socket of [client, upstream]) {
        this.#sockets.add(socket)
        socket.on('close', () => this.#sockets.delete(socket))
        socket.on('error', () => socket.destroy())
      }
      client.pipe(upstream).pipe(client)
      client.on('close', () => upstream.destroy())
      upstream.on('close', () => client.destroy())
    })
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(this.#port, '127.0.0.1', () => resolve())
    })
    this.#port = (server.address() as net.AddressInfo).port
    this.#server = server
  }

  /** Drops every connection and refuses new ones until `open`. */
  async cut(): Promise<void> {
    const server = this.#server
    this.#server = undefined
    for (const socket of this.#sockets) socket.destroy()
    this.#sockets.clear()
    if (server !== undefined) await new Promise<void>((resolve) => server.close(() => resolve()))
  }

  close(): Promise<void> {
    return this.cut()
  }
}
