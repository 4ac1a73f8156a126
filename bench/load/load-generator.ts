import { fork, type ChildProcess } from 'node:child_process'
import path from 'node:path'
import { LatencyHistogram } from './histogram.js'
import type { WireName } from './wire.js'
import type { SessionSpec, WindowReport, WorkerCommand, WorkerReply } from './worker-protocol.js'

const WORKER_SCRIPT = path.join(import.meta.dirname, 'load-worker.js')

/** A measurement window summed over every worker. */
export interface WindowResult extends Omit<WindowReport, 'latency'> {
  latency: LatencyHistogram
  /** Sending time only: what rates are computed over (`elapsedMs` runs to the end of the drain). */
  durationMs: number
  /** CPU the generator (workers and this process) spent in the window, in µs. */
  cpuMicros: number
}

export interface OpenResult {
  sockets: number
  failures: Record<string, number>
  elapsedMs: number
  cpuMicros: number
}

export interface OpenOptions {
  wire: WireName
  localAddresses?: string[]
  concurrency?: number
  timeoutMs?: number
}

/**
 * The load generator's parent side: forks worker processes, hands each a share of the sessions
 * (a session never spans workers), splits the offered rate among them by their share of the
 * sockets, and sums what they count.
 */
export class LoadGenerator {
  readonly #workers: WorkerHandle[]
  #shares: number[] = []

  private constructor(workers: WorkerHandle[]) {
    this.#workers = workers
  }

  static async start(workerCount: number): Promise<LoadGenerator> {
    const workers = await Promise.all(
      Array.from({ length: workerCount }, () => WorkerHandle.fork()),
    )
    return new LoadGenerator(workers)
  }

  get workerCount(): number {
    return this.#workers.length
  }

  /** Opens every client socket of `sessions`; resolves when each has answered a ping (or failed). */
  async open(sessions: SessionSpec[], options: OpenOptions): Promise<OpenResult> {
    const parts = this.#workers.map((): SessionSpec[] => [])
    sessions.forEach((session, index) => parts[index % parts.length]!.push(session))
    const cpuBefore = process.cpuUsage()
    const replies = await Promise.all(
      this.#workers.map((worker, index) =>
        worker.request({
          type: 'open',
          wire: options.wire,
          sessions: parts[index]!,
          localAddresses: options.localAddresses ?? ['127.0.0.1'],
          concurrency: options.concurrency ?? 64,
          timeoutMs: options.timeoutMs ?? 30_000,
        }),
      ),
    )
    const opened = replies.map((reply) => expectReply(reply, 'opened'))
    const sockets = opened.reduce((sum, reply) => sum + reply.sockets, 0)
    this.#shares = opened.map((reply) => (sockets === 0 ? 0 : reply.sockets / sockets))
    return {
      sockets,
      failures: sumRecords(opened.map((reply) => reply.failures)),
      elapsedMs: Math.max(...opened.map((reply) => reply.elapsedMs)),
      cpuMicros: sumCpu(replies) + cpuMicrosSince(cpuBefore),
    }
  }

  /** Offers `ratePerSecond` messages in total for `durationMs`, then waits up to `drainMs`. */
  async run(ratePerSecond: number, durationMs: number, drainMs: number): Promise<WindowResult> {
    const cpuBefore = process.cpuUsage()
    const replies = await Promise.all(
      this.#workers.map((worker, index) =>
        worker.request({
          type: 'run',
          ratePerSecond: ratePerSecond * (this.#shares[index] ?? 0),
          durationMs,
          drainMs,
        }),
      ),
    )
    const windows = replies.map((reply) => expectReply(reply, 'window'))
    const latency = new LatencyHistogram()
    for (const window of windows) latency.merge(LatencyHistogram.fromSparse(window.latency))
    const total = (
      field:
        | 'sent'
        | 'refused'
        | 'expected'
        | 'delivered'
        | 'lost'
        | 'duplicates'
        | 'late'
        | 'unknown'
        | 'skipped',
    ) => windows.reduce((sum, window) => sum + window[field], 0)
    return {
      sent: total('sent'),
      refused: total('refused'),
      expected: total('expected'),
      delivered: total('delivered'),
      lost: total('lost'),
      duplicates: total('duplicates'),
      late: total('late'),
      unknown: total('unknown'),
      skipped: total('skipped'),
      latency,
      errors: sumRecords(windows.map((window) => window.errors)),
      closes: sumRecords(windows.map((window) => window.closes)),
      elapsedMs: Math.max(...windows.map((window) => window.elapsedMs)),
      durationMs,
      cpuMicros: sumCpu(replies) + cpuMicrosSince(cpuBefore),
    }
  }

  /**
   * Deliveries that closed windows counted lost and that are still owed, summed over the workers,
   * and how many of theirs arrived since the last window closed: a server still working off a
   * backlog keeps delivering them.
   */
  async owed(): Promise<{ owed: number; arrived: number }> {
    const replies = await Promise.all(
      this.#workers.map((worker) => worker.request({ type: 'owed' })),
    )
    const counts = replies.map((reply) => expectReply(reply, 'owed'))
    return {
      owed: counts.reduce((sum, reply) => sum + reply.owed, 0),
      arrived: counts.reduce((sum, reply) => sum + reply.arrived, 0),
    }
  }

  /** Closes every socket (the workers stay, ready for another `open`). */
  async closeSockets(): Promise<void> {
    await Promise.all(this.#workers.map((worker) => worker.request({ type: 'close' })))
  }

  async stop(): Promise<void> {
    await Promise.all(this.#workers.map((worker) => worker.stop()))
  }
}

/** One worker process and its one outstanding request. */
class WorkerHandle {
  readonly #child: ChildProcess
  #pending: { resolve: (reply: WorkerReply) => void; reject: (error: Error) => void } | undefined

  private constructor(child: ChildProcess) {
    this.#child = child
    child.on('message', (reply: WorkerReply) => {
      const pending = this.#pending
      this.#pending = undefined
      pending?.resolve(reply)
    })
    child.on('exit', (code, signal) => {
      this.#pending?.reject(new Error(`load worker exited (${code ?? signal})`))
      this.#pending = undefined
    })
  }

  static fork(): Promise<WorkerHandle> {
    const child = fork(WORKER_SCRIPT, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    return new Promise((resolve, reject) => {
      child.once('spawn', () => resolve(new WorkerHandle(child)))
      child.once('error', reject)
    })
  }

  request(command: WorkerCommand): Promise<WorkerReply> {
    if (this.#pending !== undefined) throw new Error('a load worker handles one command at a time')
    return new Promise((resolve, reject) => {
      this.#pending = { resolve, reject }
      this.#child.send(command)
    })
  }

  stop(): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return Promise.resolve()
    return new Promise((resolve) => {
      this.#child.once('exit', () => resolve())
      this.#child.disconnect()
    })
  }
}

function expectReply<T extends WorkerReply['type']>(
  reply: WorkerReply,
  type: T,
): Extract<WorkerReply, { type: T }> {
  if (reply.type === 'failed') throw new Error(`load worker failed: ${reply.error}`)
  if (reply.type !== type) throw new Error(`load worker answered ${reply.type}, expected ${type}`)
  return reply as Extract<WorkerReply, { type: T }>
}

function sumCpu(replies: WorkerReply[]): number {
  return replies.reduce((sum, reply) => sum + reply.cpuMicros, 0)
}

function cpuMicrosSince(before: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(before)
  return used.user + used.system
}

export function sumRecords(records: Array<Record<string, number>>): Record<string, number> {
  const sum: Record<string, number> = {}
  for (const record of records) {
    for (const [key, value] of Object.entries(record)) sum[key] = (sum[key] ?? 0) + value
  }
  return sum
}
