import { WebSocket } from 'ws'
import { clientMessageId, MESSAGE_TEXT } from '../message.js'
import { DeliveryLedger } from './delivery-ledger.js'
import { wireFor, readFrame, type Wire } from './wire.js'
import type { SessionSpec, WorkerCommand, WorkerReply, WindowReport } from './worker-protocol.js'

/**
 * One load-generator process: holds its share of the sockets, sends at the rate it is told, and
 * counts every delivery in a `DeliveryLedger`. All the sockets of a session live in the same worker,
 * so send times and deliveries are compared on one clock.
 */

interface Client {
  ws: WebSocket
  session: OpenSession
  /** Position in its session: the bit this socket sets in the ledger. */
  slot: number
}

interface OpenSession {
  /** Sockets in the session: each message is owed to all of them. */
  size: number
}

class LoadWorker {
  readonly #ledger = new DeliveryLedger()
  /** Sockets in send order: round robin over sessions first, so load spreads evenly. */
  #clients: Client[] = []
  #wire: Wire | undefined
  #nextSender = 0
  #skipped = 0
  #errors: Record<string, number> = {}
  #closes: Record<string, number> = {}
  #isClosing = false

  async open(command: Extract<WorkerCommand, { type: 'open' }>): Promise<WorkerReply> {
    const started = performance.now()
    this.#isClosing = false
    const wire = wireFor(command.wire)
    this.#wire = wire
    const pending = interleave(command.sessions)
    const failures: Record<string, number> = {}
    const opened = new Array<Client | undefined>(pending.length)
    let next = 0
    const openNext = async (): Promise<void> => {
      while (next < pending.length) {
        const index = next++
        const { session, slot, url } = pending[index]!
        const localAddress = command.localAddresses[index % command.localAddresses.length]
        try {
          const ws = await this.#connect(url, localAddress, wire, command.timeoutMs)
          opened[index] = this.#adopt({ ws, session, slot })
        } catch (error) {
          const reason = error instanceof Error ? error.message : String(error)
          failures[reason] = (failures[reason] ?? 0) + 1
        }
      }
    }
    await Promise.all(Array.from({ length: command.concurrency }, openNext))
    for (const client of opened) if (client !== undefined) this.#clients.push(client)
    return {
      type: 'opened',
      sockets: this.#clients.length,
      failures,
      elapsedMs: performance.now() - started,
      cpuMicros: 0,
    }
  }

  /** Sends `ratePerSecond` for `durationMs`, then waits up to `drainMs` for what is still owed. */
  async run(command: Extract<WorkerCommand, { type: 'run' }>): Promise<WorkerReply> {
    const { ratePerSecond, durationMs, drainMs } = command
    this.#ledger.openWindow()
    this.#skipped = 0
    this.#errors = {}
    this.#closes = {}
    const started = performance.now()
    let sent = 0
    // Open loop: sends follow the clock, never the replies, so a slow server shows as latency
    // rather than as a lower offered rate (no coordinated omission).
    await new Promise<void>((resolve) => {
      const tick = () => {
        const elapsed = Math.min(performance.now() - started, durationMs)
        const due = Math.floor((ratePerSecond * elapsed) / 1_000)
        for (; sent < due; sent += 1) this.#sendNext()
        if (elapsed < durationMs) setTimeout(tick, 1)
        else resolve()
      }
      tick()
    })
    const sendingEnded = performance.now()
    while (this.#ledger.outstanding > 0 && performance.now() - sendingEnded < drainMs) {
      await new Promise((resolve) => setTimeout(resolve, 5))
    }
    const { latency, ...counts } = this.#ledger.closeWindow()
    const report: WindowReport = {
      ...counts,
      latency: latency.toSparse(),
      skipped: this.#skipped,
      errors: this.#errors,
      closes: this.#closes,
      elapsedMs: performance.now() - started,
    }
    return { type: 'window', ...report, cpuMicros: 0 }
  }

  /** Deliveries closed windows still miss, and how many of theirs arrived since the last one. */
  async owed(): Promise<WorkerReply> {
    return {
      type: 'owed',
      owed: this.#ledger.owedFromClosed,
      arrived: this.#ledger.arrivedSinceClose,
      cpuMicros: 0,
    }
  }

  async close(): Promise<WorkerReply> {
    this.#isClosing = true
    const closed = this.#clients.map(
      ({ ws }) =>
        new Promise<void>((resolve) => {
          if (ws.readyState === WebSocket.CLOSED) return resolve()
          ws.once('close', () => resolve())
          ws.close()
          // A server that never answers the close handshake must not hold the run up.
          setTimeout(() => {
            ws.terminate()
            resolve()
          }, 2_000).unref()
        }),
    )
    await Promise.all(closed)
    this.#clients = []
    this.#ledger.forgetOwed()
    return { type: 'closed', cpuMicros: 0 }
  }

  #sendNext(): void {
    const client = this.#clients[this.#nextSender]
    this.#nextSender = (this.#nextSender + 1) % Math.max(1, this.#clients.length)
    if (client === undefined || client.ws.readyState !== WebSocket.OPEN) {
      this.#skipped += 1
      return
    }
    const index = this.#ledger.recordSend(client.session.size, performance.now())
    client.ws.send(
      this.#wire!.encode(
        `{"message_type":"text","content":"${MESSAGE_TEXT}","client_message_id":"${clientMessageId(index)}"}`,
      ),
    )
  }

  /** Opens a socket and resolves once the server has answered a `ping` on it: only then has our
   * server authenticated it and joined it to its session, so nothing sent to the session is missed. */
  #connect(
    url: string,
    localAddress: string | undefined,
    wire: Wire,
    timeoutMs: number,
  ): Promise<WebSocket> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { localAddress, perMessageDeflate: false })
      const fail = (reason: string) => {
        clearTimeout(timer)
        ws.removeAllListeners()
        ws.on('error', () => undefined)
        ws.terminate()
        reject(new Error(reason))
      }
      const timer = setTimeout(() => fail('timed out'), timeoutMs)
      const ping = () => ws.send(wire.encode('{"message_type":"ping"}'))
      const events = { reply: (text: string) => ws.send(text), onTransportReady: ping }
      ws.on('open', () => {
        if (wire.isReadyOnOpen) ping()
      })
      ws.on('message', (data: Buffer) => {
        const frame = wire.unwrap(data, events)
        if (frame === undefined || readFrame(frame).kind !== 'pong') return
        clearTimeout(timer)
        ws.removeAllListeners()
        resolve(ws)
      })
      ws.on('error', (error: NodeJS.ErrnoException) => fail(error.code ?? error.message))
      ws.on('close', (code) => fail(`closed ${code}`))
    })
  }

  /** Starts counting what `client`'s socket receives. */
  #adopt(client: Client): Client {
    const { ws, slot } = client
    const wire = this.#wire!
    const ledger = this.#ledger
    const events = { reply: (text: string) => ws.send(text), onTransportReady: () => undefined }
    ws.on('message', (data: Buffer) => {
      const frame = wire.unwrap(data, events)
      if (frame === undefined) return
      const summary = readFrame(frame)
      if (summary.kind === 'message') {
        const index =
          summary.clientMessageId === undefined ? -1 : parseInt(summary.clientMessageId, 36)
        ledger.recordDelivery(index, slot, performance.now())
      } else if (summary.kind === 'error') {
        // A busy server refuses a send by name: nothing is owed for it, and it is not an error.
        if (
          summary.code === 'unavailable' &&
          summary.clientMessageId !== undefined &&
          ledger.recordRefusal(parseInt(summary.clientMessageId, 36))
        ) {
          return
        }
        const code = summary.code ?? 'unknown'
        this.#errors[code] = (this.#errors[code] ?? 0) + 1
      }
    })
    ws.on('error', () => undefined)
    ws.on('close', (code) => {
      if (!this.#isClosing) this.#closes[code] = (this.#closes[code] ?? 0) + 1
    })
    return client
  }
}

/** Every client of every session, slot 0 of each session first, then slot 1, and so on. */
function interleave(
  sessions: SessionSpec[],
): Array<{ session: OpenSession; slot: number; url: string }> {
  const open = sessions.map((spec) => ({
    spec,
    session: { size: spec.clientUrls.length },
  }))
  const widest = Math.max(0, ...sessions.map((spec) => spec.clientUrls.length))
  const order: Array<{ session: OpenSession; slot: number; url: string }> = []
  for (let slot = 0; slot < widest; slot += 1) {
    for (const { spec, session } of open) {
      const url = spec.clientUrls[slot]
      if (url !== undefined) order.push({ session, slot, url })
    }
  }
  return order
}

const worker = new LoadWorker()
let lastCpu = process.cpuUsage()

function reply(message: WorkerReply): void {
  const cpu = process.cpuUsage(lastCpu)
  lastCpu = process.cpuUsage()
  process.send!({ ...message, cpuMicros: cpu.user + cpu.system })
}

process.on('message', (command: WorkerCommand) => {
  const handled =
    command.type === 'open'
      ? worker.open(command)
      : command.type === 'run'
        ? worker.run(command)
        : command.type === 'owed'
          ? worker.owed()
          : worker.close()
  handled.then(reply, (error: unknown) =>
    reply({
      type: 'failed',
      error: error instanceof Error ? (error.stack ?? error.message) : String(error),
      cpuMicros: 0,
    }),
  )
})
// The parent going away ends the worker, whatever it was doing.
process.on('disconnect', () => process.exit(0))
