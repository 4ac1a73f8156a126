import { LoadGenerator } from '../load/load-generator.js'
import type { SteadyResult } from '../results.js'
import type { SteadySpec } from '../scales.js'
import type { ServerDriver } from '../servers/server-driver.js'
import type { WorkloadContext } from './context.js'
import { describeFailures, measureWindow, serverInfo, withServer } from './measure.js'

/**
 * A fixed offered load, measured after a warm-up: the fan-out workload (many sessions of two, the
 * support chat's shape) and the group workload (fewer, larger sessions: more deliveries per send).
 */
export async function runSteady(
  workload: SteadyResult['workload'],
  driver: ServerDriver,
  spec: SteadySpec,
  context: WorkloadContext,
): Promise<SteadyResult> {
  return withServer(driver, async (server) => {
    const sessions = await server.prepareSessions(spec.shape)
    const generator = await LoadGenerator.start(context.scale.workers)
    try {
      const opened = await generator.open(sessions, { wire: driver.wire })
      if (Object.keys(opened.failures).length > 0) {
        context.log(
          `  ${driver.id}: sockets that failed to open: ${describeFailures(opened.failures)}`,
        )
      }
      const expectedSockets = spec.shape.sessions * spec.shape.clientsPerSession
      const rate = spec.ratePerClient * expectedSockets
      await generator.run(rate, spec.warmupMs, spec.drainMs)
      const measured = await measureWindow(server, generator, rate, spec.durationMs, spec.drainMs)
      await generator.closeSockets()
      return {
        workload,
        server: serverInfo(driver),
        shape: spec.shape,
        ratePerClient: spec.ratePerClient,
        drainMs: spec.drainMs,
        sockets: opened.sockets,
        openFailures: opened.failures,
        measured,
      }
    } finally {
      await generator.stop()
    }
  })
}
