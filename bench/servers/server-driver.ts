import type { DatabaseKind, PostgresWork } from './bench-database.js'
import type { WireName } from '../load/wire.js'
import type { SessionSpec } from '../load/worker-protocol.js'
import type { ChildServer } from './child-server.js'
import type { ProcessSample } from './process-meter.js'

/** How many sessions, and how many client sockets in each. */
export interface SessionShape {
  sessions: number
  clientsPerSession: number
}

export type ServerKind = 'ours' | 'bare-ws' | 'bare-ws-sqlite' | 'bare-ws-postgres' | 'socket.io'

/**
 * One server under test, as every workload drives it: ours, the bare `ws` ceiling and Socket.IO
 * all sit behind this interface, so a workload is written once and run against each.
 */
export interface ServerDriver {
  /** Stable id used in results and file names: `ours-sqlite`, `bare-ws`, `socketio-redis-2`, … */
  readonly id: string
  /** For people: "swipesavvy-chat, SQLite". */
  readonly label: string
  readonly kind: ServerKind
  readonly wire: WireName
  readonly nodeCount: number
  /** Where our server stores messages; absent for the baselines. */
  readonly database?: DatabaseKind
  /** Of our server built at another revision (`--compare`): its short commit. */
  readonly build?: string
  /** Whether its children run under `node --cpu-prof`. */
  readonly isProfiled: boolean
  start(): Promise<RunningServer>
}

export interface RunningServer {
  /** One child process per node; CPU and memory are read from them. */
  readonly nodes: readonly ChildServer[]
  /**
   * The proxy the clients connect through (nginx), when there is one. Its CPU is reported beside
   * the nodes', not in their sum, so "server CPU" means the same thing in every row.
   */
  readonly proxy?: { sample(): ProcessSample }
  /**
   * Makes `shape.sessions` sessions ready to join and returns, for each, the URL of each client
   * socket. Clients of a session are spread over the nodes, so on several nodes every message
   * crosses between them; behind a proxy, the proxy picks the node.
   */
  prepareSessions(shape: SessionShape): Promise<SessionSpec[]>
  /**
   * What the nodes count of themselves (ours: its `/metrics`), summed over nodes; the event-loop
   * delay is the longest of any node since the previous read. Absent for the baselines, undefined
   * for a build older than these counters.
   */
  readCounters?(): Promise<ServerCounters | undefined>
  /** For a server storing in PostgreSQL: what PostgreSQL has done so far (see `PostgresWork`). */
  readPostgresWork?(): Promise<PostgresWork | undefined>
  stop(): Promise<void>
}

export interface ServerCounters {
  /** Messages that reached a node before an earlier one of their session and waited for it. */
  outOfOrder: number
  /** Times a node read from the store what the bus had not brought in time. */
  gapReads: number
  /** Messages delivered by those reads. */
  gapMessages: number
  /** Longest event-loop delay on any node since the previous read, in ms. */
  eventLoopDelayMaxMs: number
  /**
   * How long messages sent on sockets took from the server taking up their send to their commit
   * (the nodes' `chat_message_store_seconds`), summed over nodes; undefined for a build without it.
   */
  storeWait?: WaitHistogram
}

/** A latency histogram as Prometheus keeps it: how many waited at most each bound. */
export interface WaitHistogram {
  /** Rising, in ms (Prometheus' `le`, but for `+Inf`). */
  boundsMs: number[]
  atMost: number[]
  /** Every one observed, however long it waited. */
  count: number
}

/** What a histogram counted between two reads of it. */
export function histogramSince(before: WaitHistogram, after: WaitHistogram): WaitHistogram {
  return {
    boundsMs: after.boundsMs,
    atMost: after.atMost.map((count, i) => count - (before.atMost[i] ?? 0)),
    count: after.count - before.count,
  }
}

/** Where client `slot` of session `sessionIndex` connects: neighbours in a session differ. */
export function nodeFor(sessionIndex: number, slot: number, nodeCount: number): number {
  return (sessionIndex + slot) % nodeCount
}

/** Options every driver takes from the command line. */
export interface DriverOptions {
  /** A folder for data files and the like; removed by the caller. */
  workDir: string
  /** When set, server children run with `--cpu-prof` and write their profiles here. */
  cpuProfileDir: string | undefined
}

/** `node` flags that make a child write a CPU profile named after `id` on exit. */
export function profileFlags(options: DriverOptions, id: string): string[] {
  if (options.cpuProfileDir === undefined) return []
  return [
    '--cpu-prof',
    `--cpu-prof-dir=${options.cpuProfileDir}`,
    `--cpu-prof-name=${id}-${Date.now()}.cpuprofile`,
  ]
}
