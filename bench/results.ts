import type { CpuProfileChoice } from './options.js'
import type { ComparedRevision } from './servers/server-build.js'
import type { DatabaseKind, PostgresWork } from './servers/bench-database.js'
import type { ServerCounters, ServerKind, SessionShape } from './servers/server-driver.js'

/** Everything a run measured; written as `<stamp>.raw.json` beside the report it is drawn from. */

export interface ServerInfo {
  id: string
  label: string
  kind: ServerKind
  nodes: number
  /** Where our server stored messages; absent for the baselines, which store nothing. */
  database?: DatabaseKind
  /** Of our server built at another revision (`--compare`): its short commit. */
  build?: string
  /** Ran under `node --cpu-prof`, which costs it a little CPU. */
  profiled: boolean
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
  /**
   * Sends the server refused with an `error` frame of code `unavailable` (busy: too many sends
   * waiting for the store). Nothing is owed for them, so they are not lost; a step with any fails.
   */
  refused: number
  /** Deliveries owed: every socket of the session, per send that was not refused. */
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
  /**
   * CPU of the busiest node's main thread, where Node.js runs JavaScript: at 1.00 its event loop
   * never waited, and more cores would not help that node.
   */
  eventLoopCores: number
  /**
   * Share of the time that same main thread was ready to run but waited for a core (the
   * scheduler's run-queue time): with `eventLoopCores`, how much of the time its event loop was
   * not idle. Absent where the kernel keeps no `schedstat`, and from earlier results.
   */
  eventLoopWaitCores?: number
  /**
   * CPU of the busiest other thread of any node (for our server on SQLite, usually the one that
   * checkpoints), in cores; absent from results written before it was measured.
   */
  otherThreadCores?: number
  /** CPU of the proxy in front of the nodes (nginx: master and workers), in cores; absent without one. */
  proxyCores?: number
  /** CPU of the load generator (all its processes), in cores. */
  generatorCores: number
  /**
   * CPU of every process on the machine, in cores: the server, the generator, PostgreSQL or Redis
   * where used, and anything else running. What the first three leave over is noise.
   */
  machineCores: number
  /**
   * CPU of the shared services on this machine, in cores, by process name (`postgres`,
   * `redis-server`), read from `/proc`; a name is present when such processes ran. It includes
   * whatever else used them meanwhile.
   */
  serviceCores: Record<string, number>
  serverRssBytes: number
  /** What our nodes counted of themselves during the window (see `ServerCounters`). */
  serverCounters?: ServerCounters
  /** For a server storing in PostgreSQL: what PostgreSQL did during the window, drain included. */
  postgresWork?: PostgresWork
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
  /** Why the step failed: p99 over the limit, lost deliveries, refused sends, … */
  failure?: string
  /** After a failed step: how the server was let drain its backlog before the next step. */
  recovery?: StepRecovery
}

export interface StepRecovery {
  /** From the end of the step's drain to the start of the next step, the rest included. */
  waitedMs: number
  /** Deliveries of the failed step that arrived meanwhile (its drain had counted them lost). */
  lateDeliveries: number
  /** Deliveries still owed when waiting stopped (0: every one arrived). */
  stillOwed: number
  /** Server CPU, in cores, over the last poll before the rest. */
  serverCores: number
  /** Whether everything owed arrived and the server went quiet before the cooldown ran out. */
  drained: boolean
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

/** Our store fed messages with nothing else in its process (`workloads/store-alone.ts`). */
export interface StoreAloneResult {
  database: 'sqlite'
  /** Messages per group commit. */
  batch: number
  messages: number
  /** CPU of the whole process (the checkpoint thread included) per message stored. */
  cpuMicrosPerMessage: number
  /** Of that CPU, the part spent in the kernel (writes to the log, locks, waking the thread). */
  kernelMicrosPerMessage: number
  wallMicrosPerMessage: number
}

/** One message-sized row per commit, nothing else running (`workloads/commit-alone.ts`). */
export interface CommitAloneResult {
  database: DatabaseKind
  commits: number
  /** Wall time of one commit, from the insert sent to the commit done. */
  p50Ms: number
  p99Ms: number
  maxMs: number
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

/** A stretch of time on the monotonic clock, in microseconds: the clock V8's CPU profiles use. */
export interface ClockWindow {
  fromUs: number
  toUs: number
}

export interface ProfileRun {
  workload: string
  server: ServerInfo
  files: string[]
  /** The windows measured while it ran; the summary and the flame graph count only these. */
  windows: ClockWindow[]
}

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
  /** Revisions of our server measured beside it (`--compare`); their rows carry `build`. */
  compared: ComparedRevision[]
  /** Which servers ran under `node --cpu-prof`. */
  cpuProfile: CpuProfileChoice
  /** The profile files each server run wrote (one per node), by workload. */
  profileRuns: ProfileRun[]
  machine: MachineInfo
  fanOut: SteadyResult[]
  group: SteadyResult[]
  saturation: SaturationResult[]
  /** Run with the saturation workload when SQLite is measured: the floor under its targets. */
  storeAlone: StoreAloneResult[]
  /** Run with the fan-out workload, once per database: the floor under its p99. */
  commitAlone: CommitAloneResult[]
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
