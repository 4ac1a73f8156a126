import fs from 'node:fs'
import path from 'node:path'
import type { ClockWindow, ProfileRun, ServerInfo } from '../results.js'

/** The parts of a V8 `.cpuprofile` (what `node --cpu-prof` writes) that a summary needs. */
export interface CpuProfile {
  nodes: CpuProfileNode[]
  samples: number[]
  timeDeltas: number[]
  /** Microseconds on the monotonic clock, as `process.hrtime` reads it. */
  startTime: number
  endTime: number
}

export interface CallFrame {
  functionName: string
  url: string
  lineNumber: number
}

export interface CpuProfileNode {
  id: number
  callFrame: CallFrame
  children?: number[]
}

export function readCpuProfile(file: string): CpuProfile {
  return JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile
}

/** A profile's call tree as lookups: each node by id, and each node's caller. */
export function indexCallTree(profile: CpuProfile): {
  byId: Map<number, CpuProfileNode>
  parentOf: Map<number, number>
} {
  const parentOf = new Map<number, number>()
  for (const node of profile.nodes) {
    for (const child of node.children ?? []) parentOf.set(child, node.id)
  }
  return { byId: new Map(profile.nodes.map((node) => [node.id, node])), parentOf }
}

/**
 * Calls `visit` for each sample taken inside `windows` (every sample when there are none), with
 * the time until the next sample: the time spent where the sample was taken.
 */
export function forEachSample(
  profile: CpuProfile,
  windows: readonly ClockWindow[],
  visit: (nodeId: number, micros: number) => void,
): void {
  let at = profile.startTime
  profile.samples.forEach((id, index) => {
    at += profile.timeDeltas[index] ?? 0
    if (windows.length > 0 && !windows.some(({ fromUs, toUs }) => at >= fromUs && at <= toUs)) {
      return
    }
    visit(id, profile.timeDeltas[index + 1] ?? 0)
  })
}

export interface FunctionCost {
  name: string
  /** Where it is defined: a file of ours, a package, or `node:` internals. */
  location: string
  selfMs: number
  /** Share of the samples in which the process was not idle. */
  selfShare: number
}

export interface ProfileSummary {
  file: string
  durationMs: number
  /** Time the event loop had nothing to do. */
  idleMs: number
  garbageCollectionMs: number
  topFunctions: FunctionCost[]
  /** Self time summed by package (or by folder, for our own code). */
  byModule: Array<{ module: string; selfMs: number; selfShare: number }>
  /** Busy time in a few readable buckets (see `bucketOf`), in ms; they add up to the busy time. */
  buckets: Record<CostBucket, number>
}

/**
 * Where a server's busy time goes, in words a reader of the report knows: the embedded database,
 * the PostgreSQL client, writing frames to sockets, the garbage collector, our own code, and the
 * rest (frameworks, Node.js internals, parsing frames, V8's own work).
 */
export const COST_BUCKETS = ['SQLite', 'pg', 'socket writes', 'GC', 'our code', 'other'] as const
export type CostBucket = (typeof COST_BUCKETS)[number]

/** How the report names each bucket. */
export const BUCKET_LABELS: Record<CostBucket, string> = {
  SQLite: 'SQLite (better-sqlite3)',
  pg: 'PostgreSQL client (pg)',
  'socket writes': 'socket writes (ws, writev)',
  GC: 'garbage collection',
  'our code': 'our code',
  other: 'other',
}

export const IDLE = '(idle)'
const GC = '(garbage collector)'

/**
 * Self time per function: each sample is charged, for the time until the next one, to the
 * function on top of the stack. Native calls (a SQLite statement, a socket write) show as the
 * JavaScript function that made them, or as `(program)`. With `windows`, only the samples taken
 * inside them count.
 */
export function summariseCpuProfile(
  file: string,
  top = 15,
  windows: readonly ClockWindow[] = [],
): ProfileSummary {
  const profile = readCpuProfile(file)
  const { byId, parentOf } = indexCallTree(profile)
  const bucketOfNode = new Map<number, CostBucket>()
  const bucketMicros = Object.fromEntries(COST_BUCKETS.map((bucket) => [bucket, 0])) as Record<
    CostBucket,
    number
  >
  const selfMicros = new Map<string, { name: string; location: string; micros: number }>()
  let idleMicros = 0
  let gcMicros = 0
  let totalMicros = 0
  forEachSample(profile, windows, (id, micros) => {
    const frame = byId.get(id)?.callFrame
    if (frame === undefined) return
    totalMicros += micros
    if (frame.functionName === IDLE) {
      idleMicros += micros
      return
    }
    if (frame.functionName === GC) gcMicros += micros
    bucketMicros[bucketOf(id, byId, parentOf, bucketOfNode)] += micros
    const location = describeLocation(frame.url, frame.lineNumber)
    const name = frame.functionName || '(anonymous)'
    const key = `${name} ${location}`
    const entry = selfMicros.get(key) ?? { name, location, micros: 0 }
    entry.micros += micros
    selfMicros.set(key, entry)
  })
  const busyMicros = Math.max(1, totalMicros - idleMicros)
  const functions = [...selfMicros.values()].sort((a, b) => b.micros - a.micros)
  const modules = new Map<string, number>()
  for (const entry of functions) {
    const module = moduleOf(entry.location)
    modules.set(module, (modules.get(module) ?? 0) + entry.micros)
  }
  return {
    file,
    durationMs: totalMicros / 1_000,
    idleMs: idleMicros / 1_000,
    garbageCollectionMs: gcMicros / 1_000,
    topFunctions: functions.slice(0, top).map((entry) => ({
      name: entry.name,
      location: entry.location,
      selfMs: entry.micros / 1_000,
      selfShare: entry.micros / busyMicros,
    })),
    byModule: [...modules.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([module, micros]) => ({
        module,
        selfMs: micros / 1_000,
        selfShare: micros / busyMicros,
      })),
    buckets: Object.fromEntries(
      COST_BUCKETS.map((bucket) => [bucket, bucketMicros[bucket] / 1_000]),
    ) as Record<CostBucket, number>,
  }
}

/**
 * The bucket of a sample: the bucket of each node on its stack, from the root down (see
 * `bucketOfCall`), the deepest one.
 */
function bucketOf(
  id: number,
  byId: Map<number, CpuProfileNode>,
  parentOf: Map<number, number>,
  known: Map<number, CostBucket>,
): CostBucket {
  const cached = known.get(id)
  if (cached !== undefined) return cached
  const frame = byId.get(id)?.callFrame
  const parentId = parentOf.get(id)
  const caller = parentId === undefined ? 'other' : bucketOf(parentId, byId, parentOf, known)
  const bucket = frame === undefined ? caller : bucketOfCall(frame, caller)
  known.set(id, bucket)
  return bucket
}

/**
 * The bucket of a frame called from one in `caller`. Native functions (a socket's `writev`, a
 * SQLite statement's `run`) have no script of their own: they are charged to their caller, so
 * `writev` under `node:internal/stream_base_commons` is a socket write. Posting to a worker thread
 * is charged to whoever posts, past Node's own worker code. A socket write the PostgreSQL client
 * makes (a query going out) is the client's, not a frame sent to a chat socket.
 */
export function bucketOfCall(frame: CallFrame, caller: CostBucket): CostBucket {
  const own = bucketOfFrame(frame)
  if (own === undefined) return caller
  return own === 'socket writes' && caller === 'pg' ? 'pg' : own
}

/** The bucket of a frame by itself, or undefined when it is charged to its caller. */
function bucketOfFrame(frame: CallFrame): CostBucket | undefined {
  if (frame.functionName === GC) return 'GC'
  if (frame.url === '') {
    // (program), (root): V8's own work, not a native function called from a script.
    return frame.functionName.startsWith('(') ? 'other' : undefined
  }
  if (frame.url === 'node:internal/worker') return undefined
  return bucketOfScript(frame.url)
}

function bucketOfScript(url: string): CostBucket {
  const file = url.replace(/^file:\/\//, '')
  const packages = file.lastIndexOf('/node_modules/')
  if (packages !== -1) {
    const inPackage = file.slice(packages + '/node_modules/'.length)
    if (
      inPackage.startsWith('better-sqlite3/') ||
      /^kysely\/.*\/dialect\/sqlite\//.test(inPackage)
    ) {
      return 'SQLite'
    }
    if (/^pg(-[a-z]+)?\//.test(inPackage) || /^kysely\/.*\/dialect\/postgres\//.test(inPackage)) {
      return 'pg'
    }
    if (/^(ws\/lib\/(sender|buffer-util)\.js|bufferutil\/)/.test(inPackage)) return 'socket writes'
    return 'other'
  }
  if (
    /^node:(net|internal\/stream_base_commons|internal\/streams\/writable)$/.test(file) ||
    file === 'node:internal/net'
  ) {
    return 'socket writes'
  }
  // Our own code, as built: `…/dist/<copy>/src/…`. The store's driver files are where a
  // statement runs (its native time is charged to them), so they count as their database.
  const ours = /\/dist\/(?:bench-server-[^/]+\/)?src\/(.*)$/.exec(file)?.[1]
  if (ours !== undefined) {
    if (/^store\/sqlite[^/]*\.js$/.test(ours)) return 'SQLite'
    if (/^store\/postgres[^/]*\.js$/.test(ours)) return 'pg'
    return 'our code'
  }
  return 'other'
}

/** The shares of `buckets` in the busy time, largest first. */
export function bucketShares(
  buckets: Record<CostBucket, number>,
): Array<{ bucket: CostBucket; ms: number; share: number }> {
  const busy = COST_BUCKETS.reduce((sum, bucket) => sum + buckets[bucket], 0)
  return COST_BUCKETS.map((bucket) => ({
    bucket,
    ms: buckets[bucket],
    share: busy <= 0 ? 0 : buckets[bucket] / busy,
  })).sort((a, b) => b.share - a.share)
}

/** Sums the buckets of several profiles (the nodes of one many-node server). */
export function addBuckets(all: Array<Record<CostBucket, number>>): Record<CostBucket, number> {
  return Object.fromEntries(
    COST_BUCKETS.map((bucket) => [bucket, all.reduce((sum, one) => sum + one[bucket], 0)]),
  ) as Record<CostBucket, number>
}

/** A short place for a URL: `ws/lib/sender.js:120`, `src/realtime/hub.js:88`, `node:net`. */
export function describeLocation(url: string, line: number): string {
  if (url === '') return '(native)'
  const withoutScheme = url.replace(/^file:\/\//, '')
  const packages = withoutScheme.lastIndexOf('/node_modules/')
  const short =
    packages !== -1
      ? withoutScheme.slice(packages + '/node_modules/'.length)
      : withoutScheme.includes('/dist/')
        ? withoutScheme.slice(withoutScheme.lastIndexOf('/dist/') + '/dist/'.length)
        : withoutScheme.startsWith('node:')
          ? withoutScheme
          : path.basename(withoutScheme)
  return `${short}:${line + 1}`
}

/** `ws`, `@sinclair/typebox`, `src/realtime`, `node:internal`, `(native)`. */
function moduleOf(location: string): string {
  if (location.startsWith('(native)')) return '(native)'
  if (location.startsWith('node:'))
    return location.startsWith('node:internal')
      ? 'node:internal'
      : location.split(':').slice(0, 2).join(':')
  const parts = location.split(':')[0]!.split('/')
  if (parts[0] === 'src' || parts[0] === 'bench') return parts.slice(0, 2).join('/')
  return parts[0]!.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!
}

/** The profiles of one server run (one per node), summed into one account of where time went. */
export interface RunProfile {
  workload: string
  server: ServerInfo
  processes: ProfileSummary[]
  /** Whether only the measured windows count (else the processes' whole lifetime). */
  windowed: boolean
  /** Time the processes were not idle, summed over them, in ms. */
  busyMs: number
  buckets: Record<CostBucket, number>
}

export function summariseRun(run: ProfileRun): RunProfile {
  const processes = run.files.map((file) => summariseCpuProfile(file, 15, run.windows))
  return {
    workload: run.workload,
    server: run.server,
    processes,
    windowed: run.windows.length > 0,
    busyMs: processes.reduce((sum, process) => sum + process.durationMs - process.idleMs, 0),
    buckets: addBuckets(processes.map((process) => process.buckets)),
  }
}

/** Every `.cpuprofile` in `dir`, newest last. */
export function listCpuProfiles(dir: string): string[] {
  if (!fs.existsSync(dir)) return []
  return fs
    .readdirSync(dir)
    .filter((name) => name.endsWith('.cpuprofile'))
    .map((name) => path.join(dir, name))
    .sort((a, b) => fs.statSync(a).mtimeMs - fs.statSync(b).mtimeMs)
}
