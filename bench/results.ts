import type { ServerKind, SessionShape } from './servers/server-driver.js'

/** Everything a run measured; written as `<stamp>.raw.json` beside the report it is drawn from. */

export interface ServerInfo {
  id: string
  label: string
  kind: ServerKind
  nodes: number
}

/** One measurement window of steady sending. */
export interface Measured {
  offeredPerSecond: number
  /** How long messages were sent; rates are per second of it. */
  durationMs: number
  /** Messages sent per second of sending. */
  sentPerSecond: number
  /** Deliveries (one per receiving socket, the sender's included) per second of sending. */
  deliveredPerSecond: number
  p50Ms: number
  p99Ms: number
  maxMs: number
  sent: number
  expected: number
  delivered: number
  lost: number
  duplicates: number
  late: number
  skipped: number
  errors: Record<string, number>
  closes: Record<string, number>
  /** CPU of the server processes, in cores (1 = one core busy), summed over nodes. */
  serverCores: number
  /** CPU of the proxy in front of the nodes (nginx: master and workers), in cores; absent without one. */
  proxyCores?: number
  /** CPU of the load generator (all its processes), in cores. */
  generatorCores: number
  /**
   * CPU of every process on the machine, in cores: the server, the generator, PostgreSQL or Redis
   * where used, and anything else running. What the first three leave over is noise.
   */
  machineCores: number
  serverRssBytes: number
}

export interface SteadyResult {
  workload: 'fan-out' | 'group' | 'nginx'
  server: ServerInfo
  shape: SessionShape
  ratePerClient: number
  /** How long after sending stopped owed deliveries were waited for before counting as lost. */
  drainMs: number
  sockets: number
  openFailures: Record<string, number>
  measured: Measured
}

export interface SaturationStep extends Measured {
  passed: boolean
  /** Why the step failed: p99 over the limit, lost deliveries, … */
  failure?: string
}

export interface SaturationResult {
  workload: 'saturation' | 'scale-out' | 'nginx'
  server: ServerInfo
  shape: SessionShape
  /** As in `SteadyResult`, per step. */
  drainMs: number
  steps: SaturationStep[]
  /** The passing step with the most deliveries per second. */
  held: SaturationStep | undefined
  stopReason: string
}

export interface IdleResult {
  server: ServerInfo
  requested: number
  /** Sockets open and answering when memory was read. */
  held: number
  openFailures: Record<string, number>
  openMs: number
  rssBeforeBytes: number
  rssAfterBytes: number
  bytesPerSocket: number
  /** The server's limit on open files (each socket takes one). */
  serverOpenFilesLimit: number
  sourceAddresses: number
  /** Why fewer sockets than requested were opened. */
  note?: string
}

export interface HistoryResult {
  server: ServerInfo
  sessionMessages: number
  query: HistoryQueryKind
  samples: number
  p50Ms: number
  p99Ms: number
  meanMs: number
  seedMs: number
}

export type HistoryQueryKind = 'newest page' | 'offset deep' | 'cursor deep'

export interface NotRun {
  workload: string
  server: string
  reason: string
}

export interface MachineInfo {
  cpuModel: string
  cores: number
  memoryBytes: number
  node: string
  os: string
}

export interface BenchResults {
  startedAt: string
  finishedAt: string
  mode: 'full' | 'smoke'
  command: string
  /** Which server code was measured: commit, and whether `src/` had uncommitted changes. */
  revision: string
  machine: MachineInfo
  fanOut: SteadyResult[]
  group: SteadyResult[]
  saturation: SaturationResult[]
  idle: IdleResult[]
  history: HistoryResult[]
  scaleOut: SaturationResult[]
  /**
   * Issue 4: one node (clients straight to it) and three nodes behind nginx, both on PostgreSQL
   * over Redis: at the fan-out shape, and by saturation search.
   */
  nginxFanOut: SteadyResult[]
  nginxSaturation: SaturationResult[]
  notRun: NotRun[]
}
