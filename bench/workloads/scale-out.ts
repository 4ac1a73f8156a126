import net from 'node:net'
import { LoadGenerator } from '../load/load-generator.js'
import type { SaturationResult } from '../results.js'
import type { SaturationSpec } from '../scales.js'
import type { ServerDriver } from '../servers/server-driver.js'
import type { WorkloadContext } from './context.js'
import { withServer } from './measure.js'
import { runSaturation } from './saturation.js'

/**
 * The many-node row: the saturation search against several nodes joined through Redis, with the
 * two sockets of every session on different nodes, so every message crosses between nodes.
 *
 * Before measuring, a probe checks that a message sent on one node reaches a socket on another.
 * A server that starts with `REDIS_URL` but does not yet carry messages between nodes would
 * otherwise be measured as losing half its deliveries; the row says "not run" and why instead.
 */
export async function runScaleOut(
  driver: ServerDriver,
  spec: SaturationSpec,
  redisUrl: string,
  context: WorkloadContext,
): Promise<SaturationResult | { reason: string }> {
  const unreachable = await pingRedis(redisUrl)
  if (unreachable !== undefined) return { reason: `no Redis at ${redisUrl}: ${unreachable}` }
  const crossing = await probeCrossNode(driver)
  if (crossing !== undefined) return { reason: crossing }
  return runSaturation('scale-out', driver, spec, context)
}

/** Undefined when a message sent on node 1 reaches node 2; else what happened instead. */
async function probeCrossNode(driver: ServerDriver): Promise<string | undefined> {
  return withServer(driver, async (server) => {
    const sessions = await server.prepareSessions({ sessions: 1, clientsPerSession: 2 })
    const generator = await LoadGenerator.start(1)
    try {
      const opened = await generator.open(sessions, { wire: driver.wire, timeoutMs: 10_000 })
      if (opened.sockets < 2) {
        return `sockets on two nodes could not open (${Object.keys(opened.failures).join(', ')})`
      }
      const window = await generator.run(20, 500, 3_000)
      if (window.lost === 0) return undefined
      return (
        `with REDIS_URL set, ${window.lost} of ${window.expected} deliveries did not cross ` +
        `between nodes (each message reached only the sockets of the node it was sent to)`
      )
    } finally {
      await generator.stop()
    }
  })
}

/** Undefined when Redis answers PING at `url`. */
export function pingRedis(url: string): Promise<string | undefined> {
  const { hostname, port } = new URL(url)
  return new Promise((resolve) => {
    const socket = net.connect({ host: hostname, port: Number(port || 6379) })
    const done = (reason: string | undefined) => {
      socket.destroy()
      resolve(reason)
    }
    socket.setTimeout(2_000, () => done('timed out'))
    socket.once('error', (error) => done(error.message))
    socket.once('connect', () => socket.write('PING\r\n'))
    // With a password set, Redis answers -NOAUTH; still, something is there.
    socket.once('data', (data) =>
      done(data.toString().startsWith('+PONG') ? undefined : data.toString().trim()),
    )
  })
}
