import { LoadGenerator } from '../load/load-generator.js'
import type { SessionSpec } from '../load/worker-protocol.js'
import type { Measured, SaturationResult, SaturationStep, StepRecovery } from '../results.js'
import type { SaturationSpec } from '../scales.js'
import { describeRecovery } from '../report/format.js'
import { coresUsed } from '../servers/process-meter.js'
import type { RunningServer, ServerDriver } from '../servers/server-driver.js'
import type { WorkloadContext } from './context.js'
import { measureWindow, serverInfo, withServer } from './measure.js'

/** A server whose nodes use less than this many cores each has worked off its backlog. */
const QUIET_CORES_PER_NODE = 0.1
const RECOVERY_POLL_MS = 250

/**
 * Raises the offered rate step by step until a step fails (p99 over the limit, any delivery
 * lost, or any send refused as busy), or lowers it until one holds when the first does not, then
 * bisects between the highest passing and the lowest failing rate. The result is the highest
 * delivered rate a step held. The sockets stay open across steps; if the server closed some (a
 * reader too far behind is dropped), they are opened again before the next step.
 *
 * A failed step leaves a backlog (messages queued for the store, frames queued for sockets) that
 * would otherwise spill into the next step and fail it too: after one, the search waits until
 * every delivery owed has arrived and the server's CPU has gone quiet, or `cooldownMs` passes,
 * then rests `restMs`, and records what it saw in the step's `recovery`.
 */
export async function runSaturation(
  workload: SaturationResult['workload'],
  driver: ServerDriver,
  spec: SaturationSpec,
  context: WorkloadContext,
): Promise<SaturationResult> {
  return withServer(driver, async (server) => {
    const sessions = await server.prepareSessions(spec.shape)
    const generator = await LoadGenerator.start(context.scale.workers)
    try {
      return await search(workload, driver, server, generator, sessions, spec, context)
    } finally {
      await generator.stop()
    }
  })
}

async function search(
  workload: SaturationResult['workload'],
  driver: ServerDriver,
  server: RunningServer,
  generator: LoadGenerator,
  sessions: SessionSpec[],
  spec: SaturationSpec,
  context: WorkloadContext,
): Promise<SaturationResult> {
  const steps: SaturationStep[] = []
  const open = () => generator.open(sessions, { wire: driver.wire })
  await open()
  await generator.run(spec.startRate, spec.warmupMs, spec.drainMs)

  const step = async (rate: number): Promise<SaturationStep> => {
    const measured = await measureWindow(server, generator, rate, spec.stepMs, spec.drainMs)
    const failure = judge(measured, spec)
    const result: SaturationStep = { ...measured, passed: failure === undefined, failure }
    steps.push(result)
    context.log(
      `  ${driver.id}: ${Math.round(rate)} msg/s offered → ${Math.round(measured.deliveredPerSecond)} deliveries/s, ` +
        `p99 ${measured.p99Ms.toFixed(1)} ms, server ${measured.serverCores.toFixed(2)} cores, ` +
        `generator ${measured.generatorCores.toFixed(2)}${failure === undefined ? '' : `: ${failure}`}`,
    )
    // Sockets the server dropped would count as losses in every later step. Closing them first
    // also tells the ledger that what they were owed will not come.
    const hasClosedSockets = Object.keys(measured.closes).length > 0
    if (hasClosedSockets) await generator.closeSockets()
    if (failure !== undefined) {
      result.recovery = await recover(server, generator, spec)
      context.log(`  ${driver.id}: ${describeRecovery(result.recovery)}`)
    }
    if (hasClosedSockets) await open()
    return result
  }

  // Up by `growth` while steps hold; down by it if the very first one fails; until one of each.
  let passedRate: number | undefined
  let failedRate: number | undefined
  let rate = spec.startRate
  for (
    let index = 0;
    index < spec.maxSteps && (passedRate === undefined || failedRate === undefined);
    index += 1
  ) {
    const held = (await step(rate)).passed
    if (held) passedRate = Math.max(passedRate ?? 0, rate)
    else failedRate = Math.min(failedRate ?? Number.POSITIVE_INFINITY, rate)
    rate = held ? rate * spec.growth : rate / spec.growth
  }
  if (passedRate !== undefined && failedRate !== undefined) {
    let [low, high] = [passedRate, failedRate]
    for (let index = 0; index < spec.refinements; index += 1) {
      const middle = Math.sqrt(low * high)
      if ((await step(middle)).passed) low = middle
      else high = middle
    }
  }
  await generator.closeSockets()

  const held = steps
    .filter((candidate) => candidate.passed)
    .sort((a, b) => b.deliveredPerSecond - a.deliveredPerSecond)[0]
  // The failing step nearest above what held: the limit the search found.
  const limit = steps
    .filter((candidate) => !candidate.passed)
    .sort((a, b) => a.offeredPerSecond - b.offeredPerSecond)[0]
  // A generator whose every process is busy may have set the limit instead of the server.
  const generatorBound =
    limit !== undefined && limit.generatorCores >= 0.9 * generator.workerCount
      ? ` (the load generator was busy too: ${limit.generatorCores.toFixed(2)} cores; try --workers)`
      : ''
  const stopReason =
    limit === undefined
      ? `no step failed up to ${Math.round(passedRate ?? rate)} msg/s (the last step offered)`
      : passedRate === undefined
        ? `no step held, down to ${Math.round(limit.offeredPerSecond)} msg/s: ${limit.failure}`
        : `${limit.failure} at ${Math.round(limit.offeredPerSecond)} msg/s offered${generatorBound}`
  return {
    workload,
    server: serverInfo(driver),
    shape: spec.shape,
    drainMs: spec.drainMs,
    steps,
    held,
    stopReason,
  }
}

/**
 * Waits, after a failed step, until the server has worked off its backlog: every delivery the
 * step still owed has arrived and the server's CPU has gone quiet, or `spec.cooldownMs` passed.
 * Then rests `spec.restMs`.
 */
async function recover(
  server: RunningServer,
  generator: LoadGenerator,
  spec: SaturationSpec,
): Promise<StepRecovery> {
  const started = performance.now()
  const quietCores = QUIET_CORES_PER_NODE * server.nodes.length
  let owed = { owed: 0, arrived: 0 }
  let serverCores = Number.NaN
  let drained = false
  while (!drained && performance.now() - started < spec.cooldownMs) {
    const before = server.nodes.map((node) => node.sample())
    await sleep(RECOVERY_POLL_MS)
    owed = await generator.owed()
    const after = server.nodes.map((node) => node.sample())
    serverCores = before.reduce((sum, sample, index) => sum + coresUsed(sample, after[index]!), 0)
    drained = owed.owed === 0 && serverCores < quietCores
  }
  await sleep(spec.restMs)
  return {
    waitedMs: performance.now() - started,
    lateDeliveries: owed.arrived,
    stillOwed: owed.owed,
    serverCores,
    drained,
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** Why a step fails, or undefined if it held. */
function judge(measured: Measured, spec: SaturationSpec): string | undefined {
  const reasons: string[] = []
  if (measured.refused > 0) reasons.push(`${measured.refused} sends refused (busy)`)
  if (measured.lost > 0) reasons.push(`${measured.lost} deliveries lost`)
  if (measured.duplicates > 0) reasons.push(`${measured.duplicates} duplicated`)
  if (measured.skipped > 0) reasons.push(`${measured.skipped} sends on closed sockets`)
  if (!(measured.p99Ms <= spec.p99LimitMs)) {
    reasons.push(`p99 ${measured.p99Ms.toFixed(0)} ms > ${spec.p99LimitMs} ms`)
  }
  return reasons.length === 0 ? undefined : reasons.join(', ')
}
