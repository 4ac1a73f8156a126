import fs from 'node:fs'
import path from 'node:path'

/** The parts of a V8 `.cpuprofile` (what `node --cpu-prof` writes) that a summary needs. */
interface CpuProfile {
  nodes: Array<{
    id: number
    callFrame: { functionName: string; url: string; lineNumber: number }
    children?: number[]
  }>
  samples: number[]
  timeDeltas: number[]
  startTime: number
  endTime: number
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
}

const IDLE = '(idle)'
const GC = '(garbage collector)'

/**
 * Self time per function: each sample is charged, for the time until the next one, to the
 * function on top of the stack. Native calls (a SQLite statement, a socket write) show as the
 * JavaScript function that made them, or as `(program)`.
 */
export function summariseCpuProfile(file: string, top = 15): ProfileSummary {
  const profile = JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile
  const byId = new Map(profile.nodes.map((node) => [node.id, node]))
  const selfMicros = new Map<string, { name: string; location: string; micros: number }>()
  let idleMicros = 0
  let gcMicros = 0
  let totalMicros = 0
  profile.samples.forEach((id, index) => {
    // The delta *after* sample i is the time spent where sample i was taken.
    const micros = profile.timeDeltas[index + 1] ?? 0
    const frame = byId.get(id)?.callFrame
    if (frame === undefined) return
    totalMicros += micros
    if (frame.functionName === IDLE) {
      idleMicros += micros
      return
    }
    if (frame.functionName === GC) gcMicros += micros
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
  }
}

/** A short place for a URL: `ws/lib/sender.js:120`, `src/realtime/hub.js:88`, `node:net`. */
function describeLocation(url: string, line: number): string {
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

/** Every `.cpuprofile` in `dir`, newest last. */
export function listCpuProfiles(dir: string): string[] {
  if (!fs.existsSync(dir)) return []
  return fs
    .readdirSync(dir)
    .filter((name) => name.endsWith('.cpuprofile'))
    .map((name) => path.join(dir, name))
    .sort((a, b) => fs.statSync(a).mtimeMs - fs.statSync(b).mtimeMs)
}
