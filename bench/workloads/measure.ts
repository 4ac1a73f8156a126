import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import type { LoadGenerator } from '../load/load-generator.js'
import type { ClockWindow, Measured, ServerInfo } from '../results.js'
import {
  busiestOtherThreadCoresUsed,
  coresUsed,
  machineCoresUsed,
  mainThreadCoresUsed,
  mainThreadWaitCores,
  sampleMachine,
  sampleServices,
  servicesCoresUsed,
} from '../servers/process-meter.js'
import { postgresWorkSince } from '../servers/bench-database.js'
import { histogramSince, type RunningServer, type ServerDriver } from '../servers/server-driver.js'

const windows: ClockWindow[] = []

/**
 * Every window measured in this process so far, oldest first: what a server's CPU profile is cut
 * to, so start-up and sign-ups stay out of it. Its length before a run marks where that run's begin.
 */
export function measuredWindows(): readonly ClockWindow[] {
  return windows
}

const monotonicMicros = () => Number(process.hrtime.bigint() / 1_000n)

/** Sends `ratePerSecond` for `durationMs` and reads the server's and the generator's cost alike. */
export async function measureWindow(
  server: RunningServer,
  generator: LoadGenerator,
  ratePerSecond: number,
  durationMs: number,
  drainMs: number,
): Promise<Measured> {
  // Read first and last: its query costs PostgreSQL a connection, which the window should not.
  const postgresBefore = await server.readPostgresWork?.()
  const servicesBefore = sampleServices()
  const machineBefore = sampleMachine()
  const before = server.nodes.map((node) => node.sample())
  const proxyBefore = server.proxy?.sample()
  const countersBefore = await server.readCounters?.()
  const fromUs = monotonicMicros()
  const window = await generator.run(ratePerSecond, durationMs, drainMs)
  windows.push({ fromUs, toUs: monotonicMicros() })
  const after = server.nodes.map((node) => node.sample())
  const proxyAfter = server.proxy?.sample()
  const countersAfter = await server.readCounters?.()
  const machineAfter = sampleMachine()
  const servicesAfter = sampleServices()
  const postgresWork = postgresWorkSince(postgresBefore, await server.readPostgresWork?.())
  const seconds = durationMs / 1_000
  const eventLoops = before.map((sample, index) => ({
    cores: mainThreadCoresUsed(sample, after[index]!),
    waitCores: mainThreadWaitCores(sample, after[index]!),
  }))
  const busiest = eventLoops.reduce((a, b) => (b.cores > a.cores ? b : a))
  return {
    offeredPerSecond: ratePerSecond,
    durationMs,
    sentPerSecond: window.sent / seconds,
    deliveredPerSecond: window.delivered / seconds,
    p50Ms: window.latency.percentile(0.5),
    p99Ms: window.latency.percentile(0.99),
    maxMs: window.latency.maxMs,
    sent: window.sent,
    refused: window.refused,
    expected: window.expected,
    delivered: window.delivered,
    lost: window.lost,
    duplicates: window.duplicates,
    late: window.late,
    skipped: window.skipped,
    errors: window.errors,
    closes: window.closes,
    serverCores: before.reduce((sum, sample, index) => sum + coresUsed(sample, after[index]!), 0),
    eventLoopCores: busiest.cores,
    ...(busiest.waitCores !== undefined && { eventLoopWaitCores: busiest.waitCores }),
    otherThreadCores: Math.max(
      ...before.map((sample, index) => busiestOtherThreadCoresUsed(sample, after[index]!)),
    ),
    ...(proxyBefore !== undefined &&
      proxyAfter !== undefined && { proxyCores: coresUsed(proxyBefore, proxyAfter) }),
    generatorCores: window.cpuMicros / (window.elapsedMs * 1_000),
    machineCores: machineCoresUsed(machineBefore, machineAfter),
    serviceCores: servicesCoresUsed(servicesBefore, servicesAfter),
    serverRssBytes: after.reduce((sum, sample) => sum + sample.rssBytes, 0),
    ...(postgresWork !== undefined && { postgresWork }),
    ...(countersBefore !== undefined &&
      countersAfter !== undefined && {
        serverCounters: {
          outOfOrder: countersAfter.outOfOrder - countersBefore.outOfOrder,
          gapReads: countersAfter.gapReads - countersBefore.gapReads,
          gapMessages: countersAfter.gapMessages - countersBefore.gapMessages,
          eventLoopDelayMaxMs: countersAfter.eventLoopDelayMaxMs,
          ...(countersBefore.storeWait !== undefined &&
            countersAfter.storeWait !== undefined && {
              storeWait: histogramSince(countersBefore.storeWait, countersAfter.storeWait),
            }),
        },
      }),
  }
}

export function serverInfo(driver: ServerDriver): ServerInfo {
  return {
    id: driver.id,
    label: driver.label,
    kind: driver.kind,
    nodes: driver.nodeCount,
    ...(driver.database !== undefined && { database: driver.database }),
    ...(driver.build !== undefined && { build: driver.build }),
    profiled: driver.isProfiled,
  }
}

/** Starts the server, once the disk has settled, runs `work` against it, and always stops it. */
export async function withServer<S extends RunningServer, T>(
  driver: { start(): Promise<S> },
  work: (server: S) => Promise<T>,
): Promise<T> {
  await writeOutDirtyPages()
  const server = await driver.start()
  try {
    return await work(server)
  } finally {
    await server.stop()
  }
}

/**
 * Has the kernel write every file's dirty pages to the disk (`sync`) before a server starts, so no
 * row pays for the writes of the rows before it. SQLite's rows leave hundreds of megabytes in the
 * page cache (a commit there does not wait for the disk); written back later, in whichever row
 * runs then, they stalled PostgreSQL's commits, which do wait for it: half a second at a time,
 * p99 482 ms for bare ws storing in PostgreSQL after the SQLite rows against 3.2 ms run alone.
 */
async function writeOutDirtyPages(): Promise<void> {
  await promisify(execFile)('sync').catch(() => undefined)
}

export function describeFailures(failures: Record<string, number>): string {
  return Object.entries(failures)
    .map(([reason, count]) => `${count} × ${reason}`)
    .join(', ')
}
