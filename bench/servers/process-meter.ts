import { execFileSync } from 'node:child_process'
import fs from 'node:fs'

/** A process's CPU time and memory at one instant, read from `/proc` (Linux only). */
export interface ProcessSample {
  /** User + system CPU time since the process started, in µs. */
  cpuMicros: number
  /**
   * The same for its main thread alone (Node.js runs JavaScript, the event loop, there; libuv's
   * pool and worker threads are the rest), in µs.
   */
  mainThreadCpuMicros: number
  /**
   * How long the main thread has been ready to run but waited for a core, in µs (the scheduler's
   * run-queue time); undefined where the kernel keeps no `schedstat`.
   */
  mainThreadWaitMicros: number | undefined
  /**
   * The same for each of its other threads, by thread id: V8's helpers, libuv's pool and worker
   * threads (our SQLite store runs its database on one).
   */
  otherThreadsCpuMicros: Map<number, number>
  rssBytes: number
  atMs: number
}

let clockTicksPerSecond: number | undefined

/** `/proc/<pid>/stat` counts CPU in clock ticks; their length is the system's `CLK_TCK`. */
function ticksPerSecond(): number {
  if (clockTicksPerSecond === undefined) {
    try {
      clockTicksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }))
    } catch {
      clockTicksPerSecond = 100
    }
    if (!Number.isFinite(clockTicksPerSecond) || clockTicksPerSecond <= 0) clockTicksPerSecond = 100
  }
  return clockTicksPerSecond
}

export function sampleProcess(pid: number): ProcessSample {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8')
  const rssKb = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? 0)
  return {
    cpuMicros: cpuMicrosOf(`/proc/${pid}/stat`),
    // The main thread's id is the process's.
    mainThreadCpuMicros: cpuMicrosOf(`/proc/${pid}/task/${pid}/stat`),
    mainThreadWaitMicros: runQueueMicrosOf(`/proc/${pid}/task/${pid}/schedstat`),
    otherThreadsCpuMicros: otherThreadsCpuMicros(pid),
    rssBytes: rssKb * 1024,
    atMs: performance.now(),
  }
}

function otherThreadsCpuMicros(pid: number): Map<number, number> {
  const threads = new Map<number, number>()
  for (const task of fs.readdirSync(`/proc/${pid}/task`)) {
    const tid = Number(task)
    if (tid === pid) continue
    try {
      threads.set(tid, cpuMicrosOf(`/proc/${pid}/task/${task}/stat`))
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return threads
}

/** User + system CPU time in a `stat` file of `/proc` (a process's or a thread's), in µs. */
function cpuMicrosOf(statFile: string): number {
  const stat = fs.readFileSync(statFile, 'utf8')
  // The command name (field 2) may hold spaces and parentheses; the fields after its last ')' don't.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  // utime and stime are fields 14 and 15 of the whole line, so 12 and 13 after the name.
  const ticks = Number(fields[11]) + Number(fields[12])
  return (ticks * 1_000_000) / ticksPerSecond()
}

/** Time spent ready to run but waiting for a core, from a `schedstat` file (its second field, ns). */
function runQueueMicrosOf(schedstatFile: string): number | undefined {
  try {
    const waitedNanos = Number(fs.readFileSync(schedstatFile, 'utf8').split(' ')[1])
    return Number.isFinite(waitedNanos) ? waitedNanos / 1_000 : undefined
  } catch {
    return undefined
  }
}

/**
 * The ids of a process's children, from `/proc/<pid>/task/<tid>/children` (nginx's workers are
 * its master's). Empty where the kernel does not offer that file.
 */
export function childPids(pid: number): number[] {
  try {
    return fs
      .readdirSync(`/proc/${pid}/task`)
      .flatMap((task) =>
        fs.readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim().split(/\s+/),
      )
      .filter((id) => id !== '')
      .map(Number)
  } catch {
    return []
  }
}

/** Wall time between two samples, in µs: what every share of a core below divides by. */
function wallMicrosBetween(before: { atMs: number }, after: { atMs: number }): number {
  return (after.atMs - before.atMs) * 1_000
}

/** Share of one core used between two samples (1 = one core fully busy). */
export function coresUsed(before: ProcessSample, after: ProcessSample): number {
  const wallMicros = wallMicrosBetween(before, after)
  return wallMicros <= 0 ? 0 : (after.cpuMicros - before.cpuMicros) / wallMicros
}

/** The same for the main thread alone: 1 means its event loop never waited. */
export function mainThreadCoresUsed(before: ProcessSample, after: ProcessSample): number {
  const wallMicros = wallMicrosBetween(before, after)
  return wallMicros <= 0 ? 0 : (after.mainThreadCpuMicros - before.mainThreadCpuMicros) / wallMicros
}

/**
 * Share of the time the main thread was ready to run but waited for a core: beside its CPU, the
 * rest of the time its event loop was not idle.
 */
export function mainThreadWaitCores(
  before: ProcessSample,
  after: ProcessSample,
): number | undefined {
  const wallMicros = wallMicrosBetween(before, after)
  const [from, to] = [before.mainThreadWaitMicros, after.mainThreadWaitMicros]
  if (wallMicros <= 0 || from === undefined || to === undefined) return undefined
  return (to - from) / wallMicros
}

/**
 * The same for the busiest of the other threads: 1 means that thread never waited. Only threads
 * alive at both samples count.
 */
export function busiestOtherThreadCoresUsed(before: ProcessSample, after: ProcessSample): number {
  const wallMicros = wallMicrosBetween(before, after)
  if (wallMicros <= 0) return 0
  let busiest = 0
  for (const [tid, cpuMicros] of after.otherThreadsCpuMicros) {
    const earlier = before.otherThreadsCpuMicros.get(tid)
    if (earlier !== undefined) busiest = Math.max(busiest, (cpuMicros - earlier) / wallMicros)
  }
  return busiest
}

/** The soft limit on open files of a running process, from `/proc/<pid>/limits`. */
export function openFileLimit(pid: number | 'self'): { soft: number; hard: number } {
  const limits = fs.readFileSync(`/proc/${pid}/limits`, 'utf8')
  const match = /^Max open files\s+(\S+)\s+(\S+)/m.exec(limits)
  const parse = (value: string | undefined) =>
    value === undefined || value === 'unlimited' ? Number.POSITIVE_INFINITY : Number(value)
  return { soft: parse(match?.[1]), hard: parse(match?.[2]) }
}

/** CPU time every process on the machine has used, from the first line of `/proc/stat`. */
export interface MachineSample {
  busyMicros: number
  atMs: number
}

export function sampleMachine(): MachineSample {
  const line = fs.readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!
  // cpu user nice system idle iowait irq softirq steal …: busy is all but idle and iowait.
  const ticks = line.trim().split(/\s+/).slice(1).map(Number)
  const total = ticks.slice(0, 8).reduce((sum, value) => sum + value, 0)
  const idle = (ticks[3] ?? 0) + (ticks[4] ?? 0)
  return { busyMicros: ((total - idle) * 1_000_000) / ticksPerSecond(), atMs: performance.now() }
}

/** Cores the whole machine kept busy between two samples: ours, the database, neighbours. */
export function machineCoresUsed(before: MachineSample, after: MachineSample): number {
  const wallMicros = wallMicrosBetween(before, after)
  return wallMicros <= 0 ? 0 : (after.busyMicros - before.busyMicros) / wallMicros
}

/**
 * Processes of the services the servers lean on, by the name the kernel gives them (`comm`):
 * PostgreSQL's postmaster and backends, Redis. Their CPU shows where a many-node row's cores go.
 */
export const SERVICE_PROCESS_NAMES = ['postgres', 'redis-server'] as const

/** CPU time of every process named in `SERVICE_PROCESS_NAMES`, by pid, at one instant. */
export interface ServicesSample {
  byPid: Map<number, { name: string; cpuMicros: number }>
  atMs: number
}

export function sampleServices(): ServicesSample {
  const byPid = new Map<number, { name: string; cpuMicros: number }>()
  let entries: string[] = []
  try {
    entries = fs.readdirSync('/proc')
  } catch {
    return { byPid, atMs: performance.now() }
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const name = fs.readFileSync(`/proc/${entry}/comm`, 'utf8').trim()
      if (!(SERVICE_PROCESS_NAMES as readonly string[]).includes(name)) continue
      byPid.set(Number(entry), { name, cpuMicros: cpuMicrosOf(`/proc/${entry}/stat`) })
    } catch {
      // Exited since the listing.
    }
  }
  return { byPid, atMs: performance.now() }
}

/**
 * Cores each service kept busy between two samples. A process that started in between (a new
 * PostgreSQL backend) counts from zero; one that exited in between is missed.
 */
export function servicesCoresUsed(
  before: ServicesSample,
  after: ServicesSample,
): Record<string, number> {
  const wallMicros = wallMicrosBetween(before, after)
  const used: Record<string, number> = {}
  for (const [pid, { name, cpuMicros }] of after.byPid) {
    const spent = cpuMicros - (before.byPid.get(pid)?.cpuMicros ?? 0)
    used[name] = (used[name] ?? 0) + (wallMicros <= 0 ? 0 : Math.max(0, spent) / wallMicros)
  }
  return used
}
