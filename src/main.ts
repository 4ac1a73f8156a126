import type { AddressInfo } from 'node:net'
import { buildApp } from './app.js'
import { AuthService } from './auth/auth.service.js'
import { Tokens, loadOrCreateSecret } from './auth/tokens.js'
import { ConfigError, loadConfig, type Config } from './config.js'
import { createLogger } from './logger.js'
import type { Logger } from 'pino'
import type { Bus } from './realtime/bus.js'
import { MemoryBus } from './realtime/bus-memory.js'
import { RedisBus } from './realtime/bus-redis.js'
import type { Presence } from './realtime/presence.js'
import { MemoryPresence } from './realtime/presence-memory.js'
import { RedisPresence } from './realtime/presence-redis.js'
import { openStore } from './store/open-store.js'

/**
 * Reads the configuration, picks the implementations and listens: the only place that knows the
 * environment and the port. Exits with a sentence on a bad configuration.
 */
export async function startServer(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  let config: Config
  try {
    config = loadConfig(env)
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`Configuration error: ${error.message}\n`)
      process.exit(2)
    }
    throw error
  }
  const logger = createLogger(config.logLevel)

  const store = await openStore(config.database)
  const secret = loadOrCreateSecret(config.auth.jwtSecret, config.dataDir)
  if (secret.source !== 'environment') {
    logger.info(
      { file: secret.file },
      `JWT secret ${secret.source === 'generated' ? 'generated and kept' : 'read'} in the data folder (set JWT_SECRET to choose one)`,
    )
  }
  const tokens = new Tokens({
    secret: secret.secret,
    ttlSeconds: config.auth.tokenTtlSeconds,
    external: config.auth.external,
  })
  const { bus, presence } = await openTransport(config, logger)

  if (config.admin !== undefined) {
    const auth = new AuthService({ store, tokens, auth: config.auth, limits: config.limits })
    const outcome = await auth.ensureAdmin(config.admin)
    logger.info(
      { email: config.admin.email },
      outcome === 'created' ? 'admin account created' : 'admin account exists',
    )
  }

  const app = await buildApp({ config, store, bus, presence, tokens, logger })
  // Closed once the app is: its own close hooks still use them (the hub writes its last delivery
  // marks and leaves the bus), and Fastify runs close hooks last-added first.
  const closeServices = async () => {
    await bus.close()
    await presence.close()
    await store.close()
  }

  let stopping = false
  const stop = (signal: string) => {
    if (stopping) return
    stopping = true
    logger.info({ signal }, 'shutting down')
    const deadline = setTimeout(() => process.exit(1), config.realtime.shutdownGraceMs + 2_000)
    deadline.unref()
    app
      .close()
      .then(closeServices)
      .then(
        () => process.exit(0),
        (error: unknown) => {
          logger.error({ err: error }, 'shutdown failed')
          process.exit(1)
        },
      )
  }
  process.on('SIGTERM', () => stop('SIGTERM'))
  process.on('SIGINT', () => stop('SIGINT'))

  await app.listen({ host: config.host, port: config.port })
  const { port } = app.server.address() as AddressInfo
  logger.info(
    {
      node: config.nodeId,
      port,
      database: config.database.kind,
      bus: config.redisUrl ? 'redis' : 'memory',
    },
    `swipesavvy-chat listening on http://${config.host}:${port}`,
  )
}

/** In process for one node; Redis when `REDIS_URL` joins several. */
async function openTransport(
  config: Config,
  logger: Logger,
): Promise<{ bus: Bus; presence: Presence }> {
  if (config.redisUrl === undefined) return { bus: new MemoryBus(), presence: new MemoryPresence() }
  const options = {
    url: config.redisUrl,
    nodeId: config.nodeId,
    prefix: config.redisPrefix,
    logger,
  }
  const bus = new RedisBus(options)
  const presence = new RedisPresence({ ...options, nodeTimeoutMs: config.realtime.nodeTimeoutMs })
  const ready = await Promise.race([
    bus.ready().then(() => true),
    new Promise<false>((resolve) => setTimeout(() => resolve(false), 5_000).unref()),
  ])
  if (!ready) logger.warn('redis is not answering yet; serving this node alone until it does')
  return { bus, presence }
}
