import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import type { Metrics } from '../metrics.js'
import type { Bus } from '../realtime/bus.js'
import type { Store } from '../store/store.js'

const Ready = Type.Object({
  status: Type.Union([
    Type.Literal('ready'),
    Type.Literal('degraded'),
    Type.Literal('unavailable'),
  ]),
  database: Type.Union([Type.Literal('up'), Type.Literal('down')]),
  bus: Type.Union([Type.Literal('up'), Type.Literal('down')]),
})

/**
 * `/healthz`: the process answers. `/readyz`: it can serve, so 503 when the database is down; a bus
 * outage leaves it ready but degraded, since the node keeps serving its own sockets.
 * `/metrics`: Prometheus text.
 */
export function healthRoutes(deps: {
  store: Store
  bus: Bus
  metrics: Metrics
}): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.get(
      '/healthz',
      {
        schema: {
          tags: ['monitoring'],
          summary: 'The process is alive',
          response: { 200: Type.Object({ status: Type.Literal('ok') }) },
        },
      },
      () => ({ status: 'ok' as const }),
    )

    app.get(
      '/readyz',
      {
        schema: {
          tags: ['monitoring'],
          summary: 'The node can serve (503 while the database is unreachable)',
          response: { 200: Ready, 503: Ready },
        },
      },
      async (_request, reply) => {
        const database = await deps.store.ping().then(
          () => 'up' as const,
          () => 'down' as const,
        )
        const bus = deps.bus.isHealthy() ? ('up' as const) : ('down' as const)
        if (database === 'down')
          return reply.status(503).send({ status: 'unavailable', database, bus })
        return { status: bus === 'up' ? ('ready' as const) : ('degraded' as const), database, bus }
      },
    )

    app.get(
      '/metrics',
      { schema: { tags: ['monitoring'], summary: 'Prometheus metrics' } },
      async (_request, reply) => {
        const text = await deps.metrics.registry.metrics()
        return reply.type(deps.metrics.registry.contentType).send(text)
      },
    )
  }
}
