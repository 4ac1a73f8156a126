import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import type { SessionSpec } from '../load/worker-protocol.js'
import {
  createBenchDatabase,
  DATABASE_NAMES,
  readPostgresWork,
  type BenchDatabase,
  type DatabaseKind,
  type PostgresWork,
} from './bench-database.js'
import { ChatApi, mapConcurrent } from './chat-api.js'
import { ChildServer } from './child-server.js'
import { startNginx, type Nginx } from './nginx.js'
import {
  nodeFor,
  profileFlags,
  type DriverOptions,
  type RunningServer,
  type ServerCounters,
  type ServerDriver,
  type SessionShape,
  type WaitHistogram,
} from './server-driver.js'

const PASSWORD = 'bench-password-1'
/** Large enough that no limit meant for abuse ever throttles the load. */
const UNLIMITED = '1000000000'

export interface OursOptions extends DriverOptions {
  /** The server's command-line entry (see `snapshotServerBuild`). */
  cli: string
  /**
   * Set when `cli` is our server built at another revision (`--compare`, see `buildRevision`):
   * its short commit, which the row's id and label carry (`ours-sqlite@577808f`).
   */
  build?: string
  database: DatabaseKind
  postgresUrl: string
  /** More than one node joins them with `REDIS_URL` (a shared secret, a distinct `NODE_ID` each). */
  nodes?: number
  /**
   * Redis for the bus; a many-node server defaults to the local one. Given for a single node, it
   * runs over Redis too, so it pays for the same bus as the many-node rows it is compared with.
   * Each start has a `REDIS_PREFIX` of its own, so no run sees another's keys or channels.
   */
  redisUrl?: string
  /**
   * Clients, and the bench's REST calls, go through real nginx running the shipped
   * `deploy/nginx.conf` (addresses adapted, see `nginx.ts`) instead of straight to the nodes: a
   * session's sockets then land on the node its id hashes to, not spread over the nodes.
   */
  behindNginx?: boolean
  /**
   * A folder on tmpfs (memory) to keep the node's files in, its SQLite database among them,
   * instead of `workDir`: the same commits with nothing written to the disk. Beside the row on
   * disk, it shows how much of our time the disk costs.
   */
  tmpfsDir?: string
  /**
   * Accounts to create: sockets reuse their tokens (a user may be in many sessions and hold many
   * sockets). Signing up costs two scrypt hashes, so tens of thousands of accounts would take
   * minutes without telling anything about the chat.
   */
  maxUsers: number
}

export interface BenchUser {
  id: string
  token: string
}

/** Our server, `node dist/src/cli.js serve`, as `npm start` runs it. */
export class OursDriver implements ServerDriver {
  readonly kind = 'ours'
  readonly wire = 'chat'
  readonly id: string
  readonly label: string
  readonly nodeCount: number
  readonly build: string | undefined
  readonly database: DatabaseKind

  constructor(readonly options: OursOptions) {
    this.nodeCount = options.nodes ?? 1
    this.database = options.database
    this.build = options.build
    const database = DATABASE_NAMES[options.database]
    const nodes = `${this.nodeCount} node${this.nodeCount > 1 ? 's' : ''}`
    const [idSuffix, name] =
      this.build === undefined
        ? ['', 'swipesavvy-chat']
        : [`@${this.build}`, `swipesavvy-chat @${this.build}`]
    if (options.behindNginx === true) {
      this.id = `ours-${options.database}-nginx-${this.nodeCount}${idSuffix}`
      this.label = `${name}, ${database}, ${nodes} behind nginx`
    } else if (this.#usesRedis) {
      this.id = `ours-${options.database}-redis-${this.nodeCount}${idSuffix}`
      this.label = `${name}, ${database}, ${nodes} over Redis`
    } else if (options.tmpfsDir !== undefined) {
      this.id = `ours-${options.database}-tmpfs${idSuffix}`
      this.label = `${name}, ${database} on tmpfs`
    } else {
      this.id = `ours-${options.database}${idSuffix}`
      this.label = `${name}, ${database}`
    }
  }

  get isProfiled(): boolean {
    return this.options.cpuProfileDir !== undefined
  }

  get #usesRedis(): boolean {
    return this.nodeCount > 1 || this.options.redisUrl !== undefined
  }

  /** Where the nodes' files (and a SQLite database) go. */
  get #workDir(): string {
    return this.options.tmpfsDir ?? this.options.workDir
  }

  async start(): Promise<RunningOurs> {
    const database = await createBenchDatabase(this.options.database, {
      workDir: this.#workDir,
      postgresUrl: this.options.postgresUrl,
    })
    const run = {
      secret: randomBytes(32).toString('base64url'),
      redisPrefix: `bench-${randomBytes(4).toString('hex')}:`,
    }
    const nodes: ChildServer[] = []
    let nginx: Nginx | undefined
    try {
      for (let index = 0; index < this.nodeCount; index += 1) {
        nodes.push(await this.#startNode(index, database, run))
      }
      if (this.options.behindNginx === true) {
        nginx = await startNginx(
          nodes.map((node) => node.port),
          fs.mkdtempSync(path.join(this.#workDir, `${this.id}-nginx-`)),
        )
      }
    } catch (error) {
      await Promise.all(nodes.map((node) => node.stop()))
      await database.dispose()
      throw error
    }
    return new RunningOurs(nodes, database, this.options.maxUsers, nginx)
  }

  #startNode(
    index: number,
    database: BenchDatabase,
    run: { secret: string; redisPrefix: string },
  ): Promise<ChildServer> {
    const name = this.nodeCount > 1 ? `${this.id}-node${index + 1}` : this.id
    return ChildServer.start({
      name,
      script: this.options.cli,
      args: ['serve'],
      nodeFlags: profileFlags(this.options, name),
      env: {
        DATA_DIR: path.join(this.#workDir, name),
        DATABASE_URL: database.url,
        JWT_SECRET: run.secret,
        // The "listening on" line that says the server is ready is logged at info; at info the
        // server logs nothing per request or per socket, so the load is not slowed by logging.
        LOG_LEVEL: 'info',
        MESSAGE_RATE_PER_SECOND: UNLIMITED,
        MESSAGE_RATE_BURST: UNLIMITED,
        MESSAGE_FLOOD_CLOSE_AFTER: UNLIMITED,
        MAX_SOCKETS_PER_USER: UNLIMITED,
        AUTH_RATE_PER_MINUTE: UNLIMITED,
        LOGIN_FAILURE_LIMIT: UNLIMITED,
        SHUTDOWN_GRACE_MS: '1000',
        ...(this.#usesRedis && {
          REDIS_URL: this.options.redisUrl ?? 'redis://127.0.0.1:6379',
          REDIS_PREFIX: run.redisPrefix,
          // NODE_ID takes letters, digits, dots, dashes and underscores: a compared build's `@` goes.
          NODE_ID: name.replaceAll('@', '-'),
        }),
        // As deployed behind a proxy: the client's address comes from X-Forwarded-For.
        ...(this.options.behindNginx === true && { TRUST_PROXY: 'true' }),
      },
    })
  }
}

export class RunningOurs implements RunningServer {
  /** REST goes to the first node, or through nginx to any; every node shares the database. */
  readonly api: ChatApi
  #users: BenchUser[] = []

  constructor(
    readonly nodes: readonly ChildServer[],
    readonly database: BenchDatabase,
    readonly maxUsers: number,
    readonly proxy?: Nginx,
  ) {
    this.api = new ChatApi(`http://${proxy?.address ?? `127.0.0.1:${nodes[0]!.port}`}`)
  }

  /** Makes sure at least `count` accounts exist, and returns them with their tokens. */
  async users(count: number): Promise<BenchUser[]> {
    const start = this.#users.length
    const added = await mapConcurrent(
      Array.from({ length: Math.max(0, count - start) }, (_, index) => start + index),
      // scrypt runs on libuv's four threads: more in flight would only queue there.
      8,
      async (index) => {
        const email = `bench-${index}-${randomBytes(3).toString('hex')}@example.com`
        const { id } = await this.api.register(email, PASSWORD)
        return { id, token: await this.api.login(email, PASSWORD) }
      },
    )
    this.#users.push(...added)
    return this.#users.slice(0, count)
  }

  async prepareSessions(shape: SessionShape): Promise<SessionSpec[]> {
    const { sessions, clientsPerSession } = shape
    const users = await this.users(
      Math.max(clientsPerSession, Math.min(this.maxUsers, sessions * clientsPerSession)),
    )
    // Client `slot` of session `i` is user `(i × clients + slot) mod users`: distinct within a
    // session, and every user in about the same number of sessions.
    const members = (sessionIndex: number) =>
      Array.from(
        { length: clientsPerSession },
        (_, slot) => users[(sessionIndex * clientsPerSession + slot) % users.length]!,
      )
    const ids = await mapConcurrent(
      Array.from({ length: sessions }, (_, index) => index),
      32,
      (index) => {
        const [creator, ...others] = members(index)
        return this.api.createSession(
          creator!.token,
          `Bench session ${index}`,
          others.map((user) => user.id),
        )
      },
    )
    return ids.map((id, sessionIndex) => ({
      id,
      clientUrls: members(sessionIndex).map((user, slot) => {
        const address =
          this.proxy?.address ??
          `127.0.0.1:${this.nodes[nodeFor(sessionIndex, slot, this.nodes.length)]!.port}`
        return `ws://${address}/api/v1/chat/ws/${id}?token=${user.token}`
      }),
    }))
  }

  async readPostgresWork(): Promise<PostgresWork | undefined> {
    return this.database.kind === 'postgres' ? readPostgresWork(this.database.baseUrl) : undefined
  }

  async readCounters(): Promise<ServerCounters | undefined> {
    // The counters only add to a window's account: a node that died or hangs must not cost the
    // window itself, which reports that node's losses on its own.
    const texts = await Promise.all(
      this.nodes.map(async (node) => {
        const response = await fetch(`http://127.0.0.1:${node.port}/metrics`, {
          signal: AbortSignal.timeout(5_000),
        })
        return response.text()
      }),
    ).catch(() => undefined)
    const nodes = texts?.map(parseMetrics)
    if (nodes === undefined || !nodes.every((node) => node.has('chat_gap_reads_total')))
      return undefined
    const sum = (name: string) => nodes.reduce((total, node) => total + (node.get(name) ?? 0), 0)
    return {
      outOfOrder: sum('chat_messages_out_of_order_total'),
      gapReads: sum('chat_gap_reads_total'),
      gapMessages: sum('chat_gap_messages_total'),
      eventLoopDelayMaxMs:
        Math.max(...nodes.map((node) => node.get('nodejs_eventloop_lag_max_seconds') ?? 0)) * 1_000,
      storeWait: sumHistograms(texts!.map((text) => parseHistogram(text, STORE_WAIT))),
    }
  }

  async stop(): Promise<void> {
    this.api.close()
    await this.proxy?.stop()
    await Promise.all(this.nodes.map((node) => node.stop()))
    await this.database.dispose()
  }
}

const STORE_WAIT = 'chat_message_store_seconds'

/** The buckets of an unlabelled histogram in a Prometheus text exposition, in ms. */
export function parseHistogram(text: string, name: string): WaitHistogram | undefined {
  const buckets: { boundMs: number; count: number }[] = []
  let count: number | undefined
  for (const line of text.split('\n')) {
    const match = /^(\w+)_bucket\{le="([^"]+)"\} (\S+)$/.exec(line)
    if (match?.[1] !== name) continue
    if (match[2] === '+Inf') count = Number(match[3])
    else buckets.push({ boundMs: Number(match[2]) * 1_000, count: Number(match[3]) })
  }
  if (count === undefined) return undefined
  buckets.sort((a, b) => a.boundMs - b.boundMs)
  return {
    boundsMs: buckets.map((bucket) => bucket.boundMs),
    atMost: buckets.map((bucket) => bucket.count),
    count,
  }
}

/** The nodes' histograms added up; undefined unless every node has one, with the same bounds. */
function sumHistograms(histograms: (WaitHistogram | undefined)[]): WaitHistogram | undefined {
  const [first] = histograms
  if (first === undefined) return undefined
  const sameBounds = (h: WaitHistogram | undefined): h is WaitHistogram =>
    h !== undefined && h.boundsMs.join() === first.boundsMs.join()
  if (!histograms.every(sameBounds)) return undefined
  const total = (of: (h: WaitHistogram) => number) => histograms.reduce((sum, h) => sum + of(h), 0)
  return {
    boundsMs: first.boundsMs,
    atMost: first.boundsMs.map((_, i) => total((h) => h.atMost[i]!)),
    count: total((h) => h.count),
  }
}

/** The unlabelled samples of a Prometheus text exposition, by metric name. */
function parseMetrics(text: string): Map<string, number> {
  const samples = new Map<string, number>()
  for (const line of text.split('\n')) {
    const match = /^([a-z_:][a-z0-9_:]*) (\S+)$/i.exec(line)
    if (match !== null) samples.set(match[1]!, Number(match[2]))
  }
  return samples
}
