import cors from '@fastify/cors'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import { authRoutes } from './auth/auth.routes.js'
import { AuthService } from './auth/auth.service.js'
import type { Tokens } from './auth/tokens.js'
import { BlocksService } from './chat/blocks.service.js'
import { MessagesService } from './chat/messages.service.js'
import { chatRoutes } from './chat/sessions.routes.js'
import { SessionsService } from './chat/sessions.service.js'
import type { Config } from './config.js'
import { installErrorHandlers, refuseMalformedUrl } from './http/error-handler.js'
import { healthRoutes } from './http/health.routes.js'
import { installOpenApi } from './http/openapi.js'
import { installValidation } from './http/validation.js'
import { createLogger, stripQuery } from './logger.js'
import { Metrics } from './metrics.js'
import type { Bus } from './realtime/bus.js'
import { BusEventSink } from './realtime/bus-event-sink.js'
import { Gateway } from './realtime/gateway.js'
import { Hub } from './realtime/hub.js'
import { socketRoutes } from './realtime/socket.routes.js'
import type { Presence } from './realtime/presence.js'
import type { Store } from './store/store.js'

/** Everything the app is built from; `main.ts` (or a test) creates these and passes them in. */
export interface AppDeps {
  config: Config
  store: Store
  bus: Bus
  presence: Presence
  tokens: Tokens
  logger?: Logger
}

export const MAX_BODY_BYTES = 64 * 1024

/** Builds the whole service as a Fastify instance. Never listens: `main.ts` and tests decide. */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const { config, store, bus, presence, tokens } = deps
  const logger = deps.logger ?? createLogger('silent')
  const fastifyLogger: FastifyBaseLogger = logger
  const app = Fastify({
    loggerInstance: fastifyLogger,
    bodyLimit: MAX_BODY_BYTES,
    trustProxy: config.trustProxy,
    frameworkErrors: refuseMalformedUrl,
    // One debug line per request, written by the metrics hook, without the query string.
    logController: new LogController({ disableRequestLogging: true }),
  }).withTypeProvider<TypeBoxTypeProvider>()

  const metrics = new Metrics()
  const events = new BusEventSink(bus, logger)
  const auth = new AuthService({ store, tokens, auth: config.auth, limits: config.limits })
  const hub = new Hub({
    nodeId: config.nodeId,
    bus,
    presence,
    store,
    metrics,
    logger,
    typingTimeoutMs: config.realtime.typingTimeoutMs,
  })
  const sessions = new SessionsService(store, events, hub)
  const messages = new MessagesService(store, events, config.limits)
  const blocks = new BlocksService(store, events)

  installErrorHandlers(app)
  installValidation(app)
  installJsonParser(app)
  await app.register(cors, {
    origin: config.corsOrigins.length > 0 ? config.corsOrigins : false,
    methods: ['GET', 'POST', 'PATCH', 'OPTIONS'],
  })
  await installOpenApi(app)
  installRequestMetrics(app, metrics)

  await app.register(healthRoutes({ store, bus, metrics }))
  await app.register(authRoutes(auth), { prefix: '/api/v1' })
  await app.register(chatRoutes({ auth, sessions, messages, blocks, presence: hub }), {
    prefix: '/api/v1/chat',
  })
  await app.register(socketRoutes(), { prefix: '/api/v1/chat' })
  new Gateway({ config, auth, messages, store, hub, metrics, logger }).install(app)
  app.addHook('onClose', () => hub.close())
  return app
}

/** JSON bodies, where an empty body counts as no body (clients POST `close` with a JSON header). */
function installJsonParser(app: FastifyInstance): void {
  const parseJson = app.getDefaultJsonParser('error', 'error')
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (typeof body === 'string' && body.trim() === '') return done(null, undefined)
    return parseJson(request, body as string, done)
  })
}

function installRequestMetrics(app: FastifyInstance, metrics: Metrics): void {
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched'
    metrics.httpRequests
      .labels(request.method, route, String(reply.statusCode))
      .observe(reply.elapsedTime / 1000)
    if (reply.statusCode >= 400) metrics.errors.labels(String(reply.statusCode)).inc()
    request.log.debug(
      {
        method: request.method,
        url: stripQuery(request.url),
        status: reply.statusCode,
        ms: reply.elapsedTime,
      },
      'request completed',
    )
  })
}
