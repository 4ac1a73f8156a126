import type { WindowCounts } from './delivery-ledger.js'
import type { SparseHistogram } from './histogram.js'
import type { WireName } from './wire.js'

/**
 * Messages between the load generator (parent) and its worker processes, over the IPC channel of
 * `child_process.fork`. A worker handles one command at a time and answers each with one reply.
 * Workers are processes rather than threads because sockets cost file descriptors, and the
 * per-process limit (`ulimit -n`) is what caps how many one process can hold.
 */

/** A session as a worker sees it: the URL of each of its client sockets, token included. */
export interface SessionSpec {
  id: string
  clientUrls: string[]
}

export type WorkerCommand =
  | {
      type: 'open'
      wire: WireName
      sessions: SessionSpec[]
      /** Loopback source addresses to spread sockets over (ephemeral ports are per address). */
      localAddresses: string[]
      /** Sockets being opened at once. */
      concurrency: number
      timeoutMs: number
    }
  | { type: 'run'; ratePerSecond: number; durationMs: number; drainMs: number }
  /** How much of what closed windows counted lost is still owed (a server working off a backlog). */
  | { type: 'owed' }
  | { type: 'close' }

/** Counts of a measurement window as they cross the IPC channel (its histogram made sparse). */
export interface WindowReport extends Omit<WindowCounts, 'latency'> {
  latency: SparseHistogram
  /** Sends skipped because the socket was no longer open. */
  skipped: number
  /** `error` frames received, by their code, refusals of a send excepted. */
  errors: Record<string, number>
  /** Sockets the server closed during the window, by close code. */
  closes: Record<string, number>
  elapsedMs: number
}

export type WorkerReply = (
  | { type: 'opened'; sockets: number; failures: Record<string, number>; elapsedMs: number }
  | ({ type: 'window' } & WindowReport)
  | { type: 'owed'; owed: number; arrived: number }
  | { type: 'closed' }
  | { type: 'failed'; error: string }
) & {
  /** CPU time (user + system, µs) this worker spent since its previous reply. */
  cpuMicros: number
}
