import { randomBytes, randomUUID } from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import pg from 'pg'
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify'
import type { Logger } from 'pino'
import { buildApp } from '../app.js'
import { Tokens } from '../auth/tokens.js'
import type { Session } from '../chat/chat.schemas.js'
import { loadConfig, type Config } from '../config.js'
import type { Bus } from '../realtime/bus.js'
import { createLogger } from '../logger.js'
import { MemoryBus } from '../realtime/bus-memory.js'
import { RedisBus } from '../realtime/bus-redis.js'
import { RedisPresence } from '../realtime/presence-redis.js'
import type { Presence } from '../realtime/presence.js'
import { MemoryPresence } from '../realtime/presence-memory.js'
import { openPostgresStore } from '../store/postgres.js'
import { openSqliteStore } from '../store/sqlite.js'
import type { TcpProxy } from './tcp-proxy.js'
import type { Role, Store, UserRecord } from '../store/store.js'

/**
 * Which database this test run uses: the vitest project sets `CHAT_TEST_DATABASE` to `sqlite` or
 * `postgres` (the latter only where `DATABASE_URL` is set, as in CI).
 */
export const testDatabase = (process.env.CHAT_TEST_DATABASE ?? 'sqlite') as 'sqlite' | 'postgres'

export const TEST_JWT_SECRET = 'test-secret-that-is-long-enough-for-hs256-0123456789'

export interface TestStore {
  store: Store
  /** For a second node or a restarted process on the same database. */
  databaseEnv: Record<string, string>
  drop(): Promise<void>
}

/** A fresh, empty database of the kind under test: an own schema on PostgreSQL, a temp file on SQLite. */
export async function createTestStore(options: { via?: TcpProxy } = {}): Promise<TestStore> {
  if (testDatabase === 'postgres') {
    const url = process.env.DATABASE_URL
    if (url === undefined) throw new Error('CHAT_TEST_DATABASE=postgres needs DATABASE_URL')
    const schema = `test_${randomBytes(6).toString('hex')}`
    const store = await openPostgresStore({
      url: throughProxy(url, options.via),
      poolSize: 10,
      schema,
    })
    return {
      store,
      databaseEnv: { DATABASE_URL: withSearchPath(throughProxy(url, options.via), schema) },
      drop: async () => {
        await store.close()
        await dropSchema(url, schema)
      },
    }
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chat-test-'))
  const file = path.join(dir, 'chat.db')
  const store = await openSqliteStore({ file, synchronous: 'NORMAL' })
  return {
    store,
    databaseEnv: { DATABASE_URL: `sqlite:${file}` },
    drop: async () => {
      await store.close()
      fs.rmSync(dir, { recursive: true, force: true })
    },
  }
}

/** The same database, reached through `proxy` (a test can cut it), if one is given. */
function throughProxy(url: string, proxy: TcpProxy | undefined): string {
  if (proxy === undefined) return url
  const parsed = new URL(url)
  parsed.hostname = '127.0.0.1'
  parsed.port = String(proxy.port)
  return parsed.toString()
}

/** The PostgreSQL server under test, for a proxy in front of it. */
export function postgresAddress(): { host: string; port: number } {
  const parsed = new URL(process.env.DATABASE_URL ?? 'postgres://127.0.0.1:5432/test')
  return { host: parsed.hostname, port: Number(parsed.port || 5432) }
}

/** A connection string that lands in `schema` (libpq's `options`), for child processes. */
function withSearchPath(url: string, schema: string): string {
  const parsed = new URL(url)
  parsed.searchParams.set('options', `-c search_path=${schema}`)
  return parsed.toString()
}

async function dropSchema(url: string, schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    await client.query(`drop schema if exists "${schema}" cascade`)
  } finally {
    await client.end()
  }
}

export interface TestAppOptions {
  env?: Record<string, string>
  /** Redis bus and presence under this key prefix (several nodes share one prefix). */
  redisPrefix?: string
  /** Another way to the test Redis (a proxy a test can cut); default `REDIS_URL`. */
  redisUrl?: string
  /** Share these between apps to make several nodes in one process. */
  bus?: Bus
  presence?: Presence
  store?: TestStore
  logger?: Logger
  nodeId?: string
}

export interface TestApp {
  app: FastifyInstance
  store: Store
  testStore: TestStore
  config: Config
  tokens: Tokens
  bus: Bus
  presence: Presence
  /** A user with a token, made directly in the store (no password hashing). */
  signUp(name: string, role?: Role): Promise<TestClient>
  close(): Promise<void>
}

/** The whole app on a fresh database, ready for `inject()`. Close it at the end of the test. */
export async function buildTestApp(options: TestAppOptions = {}): Promise<TestApp> {
  const testStore = options.store ?? (await createTestStore())
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'chat-data-'))
  const config = loadConfig({
    JWT_SECRET: TEST_JWT_SECRET,
    DATA_DIR: dataDir,
    NODE_ID: options.nodeId ?? `test-${randomBytes(3).toString('hex')}`,
    ...options.env,
  })
  const tokens = new Tokens({
    secret: new TextEncoder().encode(TEST_JWT_SECRET),
    ttlSeconds: config.auth.tokenTtlSeconds,
    external: config.auth.external,
  })
  const redis =
    options.redisPrefix === undefined
      ? undefined
      : createRedisTransport(options.redisPrefix, config, options.redisUrl)
  const bus = options.bus ?? redis?.bus ?? new MemoryBus()
  const presence = options.presence ?? redis?.presence ?? new MemoryPresence()
  await redis?.bus.ready()
  const store = testStore.store
  const app = await buildApp({ config, store, bus, presence, tokens, logger: options.logger })
  await app.ready()

  const signUp = async (name: string, role: Role = 'user') => {
    const user: UserRecord = {
      id: randomUUID(),
      email: `${name}-${randomBytes(4).toString('hex')}@example.com`,
      full_name: name,
      role,
      password_hash: null,
      external_issuer: null,
      external_subject: null,
      created_at: Date.now(),
    }
    await store.users.insert(user)
    return new TestClient(app, user, await tokens.issue(user))
  }

  return {
    app,
    store,
    testStore,
    config,
    tokens,
    bus,
    presence,
    signUp,
    close: async () => {
      await app.close()
      await redis?.bus.close()
      await redis?.presence.close()
      if (options.store === undefined) await testStore.drop()
      fs.rmSync(dataDir, { recursive: true, force: true })
    },
  }
}

export const testRedisUrl = process.env.REDIS_URL

/** A Redis bus and presence for one node of a test cluster; needs `REDIS_URL`. */
function createRedisTransport(prefix: string, config: Config, url = testRedisUrl) {
  if (url === undefined) throw new Error('Redis tests need REDIS_URL')
  const logger = createLogger('silent')
  const options = { url, nodeId: config.nodeId, prefix, logger }
  return {
    bus: new RedisBus(options),
    presence: new RedisPresence({ ...options, nodeTimeoutMs: config.realtime.nodeTimeoutMs }),
  }
}

/** Where the test Redis listens, for a proxy in front of it. */
export function redisAddress(): { host: string; port: number } {
  const parsed = new URL(testRedisUrl ?? 'redis://127.0.0.1:6379')
  return { host: parsed.hostname, port: Number(parsed.port || 6379) }
}

/** A signed-in caller of the REST API through `inject()`. */
export class TestClient {
  constructor(
    readonly app: FastifyInstance,
    readonly user: UserRecord,
    readonly token: string,
  ) {}

  get id(): string {
    return this.user.id
  }

  request(options: InjectOptions): Promise<LightMyRequestResponse> {
    return this.app.inject({
      ...options,
      headers: { authorization: `Bearer ${this.token}`, ...options.headers },
    })
  }

  get(url: string): Promise<LightMyRequestResponse> {
    return this.request({ method: 'GET', url })
  }

  post(url: string, payload?: unknown): Promise<LightMyRequestResponse> {
    return this.request({
      method: 'POST',
      url,
      ...(payload !== undefined && { payload: payload as object }),
    })
  }

  patch(url: string, payload: unknown): Promise<LightMyRequestResponse> {
    return this.request({ method: 'PATCH', url, payload: payload as object })
  }

  async createSession(body: Record<string, unknown> = { title: 'Support Chat' }): Promise<Session> {
    const res = await this.post('/api/v1/chat/sessions', body)
    if (res.statusCode !== 201) throw new Error(`createSession: ${res.statusCode} ${res.body}`)
    return res.json<Session>()
  }

  async send(sessionId: string, content: string, extra: Record<string, unknown> = {}) {
    const res = await this.post(`/api/v1/chat/sessions/${sessionId}/messages`, {
      content,
      ...extra,
    })
    if (res.statusCode !== 201 && res.statusCode !== 200) {
      throw new Error(`send: ${res.statusCode} ${res.body}`)
    }
    return res.json<{ id: string; seq: number }>()
  }

  async addParticipant(sessionId: string, userId: string) {
    return this.post(`/api/v1/chat/sessions/${sessionId}/participants`, { user_id: userId })
  }
}
