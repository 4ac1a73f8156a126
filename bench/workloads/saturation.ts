import { LoadGenerator } from '../load/load-generator.js'
import type { SessionSpec } from '../load/worker-protocol.js'
import type { Measured, SaturationResult, SaturationStep } from '../results.js'
import type { SaturationSpec } from '../scales.js'
import type { RunningServer, ServerDriver } from '../servers/server-driver.js'
import type { WorkloadContext } from './context.js'
import { measureWindow, serverInfo, withServer } from './measure.js'

/**
 * Raises the offered rate step by step until a step fails (p99 over the limit, or any delivery
 * lost), or lowers it until one holds when the first does not, then bisects between the highest
 * passing and the lowest failing rate. The result is the
 * highest delivered rate a step held. The sockets stay open across steps; if the server closed
 * some (a reader too far behind is dropped), they are opened again before the next step.
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
    if (Object.keys(measured.closes).length > 0) {
      // Sockets the server dropped would count as losses in every later step.
      await generator.closeSockets()
      await open()
    }
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

/** Why a step fails, or undefined if it held. */
function judge(measured: Measured, spec: SaturationSpec): string | undefined {
  const reasons: string[] = []
  if (measured.lost > 0) reasons.push(`${measured.lost} deliveries lost`)
  if (measured.duplicates > 0) reasons.push(`${measured.duplicates} duplicated`)
  if (measured.skipped > 0) reasons.push(`${measured.skipped} sends on closed sockets`)
  if (!(measured.p99Ms <= spec.p99LimitMs)) {
    reasons.push(`p99 ${measured.p99Ms.toFixed(0)} ms > ${spec.p99LimitMs} ms`)
  }
  return reasons.length === 0 ? undefined : reasons.join(', ')
}
