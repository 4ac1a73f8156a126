import { LoadGenerator } from '../load/load-generator.js'
import type { IdleResult } from '../results.js'
import type { IdleSpec } from '../scales.js'
import { openFileLimit } from '../servers/process-meter.js'
import type { ServerDriver } from '../servers/server-driver.js'
import type { WorkloadContext } from './context.js'
import { describeFailures, serverInfo, withServer } from './measure.js'

/** File descriptors a server needs besides its sockets: database, logs, listening socket, … */
const SERVER_SPARE_FILES = 256
/** Sockets per load-generator process, well under a usual `ulimit -n` of 20,000 or more. */
const MAX_SOCKETS_PER_WORKER = 15_000

/**
 * Opens `requested` sockets, holds them, and reads how much the server's resident memory grew per
 * socket. Every socket carries a real token and has joined its session (it answered a ping).
 *
 * One source address has about 28,000 ephemeral ports on Linux (`ip_local_port_range`), so
 * sockets are spread over several loopback source addresses (all of 127/8 is loopback). The server can hold no more sockets than
 * its open-files limit allows; when that is below the request, the run holds as many as fit and
 * says so, rather than reporting a failure that is the machine's, not the server's.
 */
export async function runIdle(
  driver: ServerDriver,
  requested: number,
  spec: IdleSpec,
  context: WorkloadContext,
): Promise<IdleResult> {
  return withServer(driver, async (server) => {
    const perNode = Math.min(...server.nodes.map((node) => node.openFiles().soft))
    const capacity = (perNode - SERVER_SPARE_FILES) * server.nodes.length
    const sessions = Math.floor(Math.min(requested, capacity) / spec.clientsPerSession)
    const target = sessions * spec.clientsPerSession
    const note =
      target < requested
        ? `${requested.toLocaleString('en')} requested; the server process may open ${perNode.toLocaleString('en')} files ` +
          `(its hard limit; raising it needs root's CAP_SYS_RESOURCE), so ${target.toLocaleString('en')} were opened`
        : undefined
    if (note !== undefined) context.log(`  ${driver.id}: ${note}`)

    const specs = await server.prepareSessions({
      sessions,
      clientsPerSession: spec.clientsPerSession,
    })
    const ownLimit = openFileLimit('self').soft
    const perWorker = Math.min(MAX_SOCKETS_PER_WORKER, ownLimit - SERVER_SPARE_FILES)
    const generator = await LoadGenerator.start(Math.max(1, Math.ceil(target / perWorker)))
    const sourceAddresses = Math.max(1, Math.ceil(target / spec.socketsPerSourceAddress))
    try {
      const before = sumRss(server.nodes.map((node) => node.sample().rssBytes))
      const opened = await generator.open(specs, {
        wire: driver.wire,
        localAddresses: takeSourceAddresses(sourceAddresses),
        concurrency: 100,
        timeoutMs: 60_000,
      })
      if (Object.keys(opened.failures).length > 0) {
        context.log(
          `  ${driver.id}: sockets that failed to open: ${describeFailures(opened.failures)}`,
        )
      }
      await new Promise((resolve) => setTimeout(resolve, spec.holdMs))
      const after = sumRss(server.nodes.map((node) => node.sample().rssBytes))
      await generator.closeSockets()
      return {
        server: serverInfo(driver),
        requested,
        held: opened.sockets,
        openFailures: opened.failures,
        openMs: opened.elapsedMs,
        rssBeforeBytes: before,
        rssAfterBytes: after,
        bytesPerSocket: opened.sockets === 0 ? Number.NaN : (after - before) / opened.sockets,
        serverOpenFilesLimit: perNode,
        sourceAddresses,
        ...(note !== undefined && { note }),
      }
    } finally {
      await generator.stop()
    }
  })
}

/** Loopback addresses handed out so far; 127.0.0.1 is left to the other workloads. */
let sourceAddressesTaken = 1

/**
 * Fresh loopback addresses (127.0.0.1, 127.0.0.2, …, 127.0.1.1, …) for each run: the ports of the
 * previous run's sockets linger in TIME_WAIT for a minute, and reusing their address would run
 * out of ports (EADDRINUSE) long before the ephemeral range is used up.
 */
function takeSourceAddresses(count: number): string[] {
  return Array.from({ length: count }, () => {
    const index = sourceAddressesTaken++
    return `127.0.${Math.floor(index / 254)}.${(index % 254) + 1}`
  })
}

function sumRss(values: number[]): number {
  return values.reduce((sum, value) => sum + value, 0)
}
