import { randomUUID } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import type { SessionSpec } from '../load/worker-protocol.js'
import {
  createBenchDatabase,
  readPostgresWork,
  type DatabaseKind,
  type PostgresWork,
} from './bench-database.js'
import { ChildServer } from './child-server.js'
import {
  nodeFor,
  profileFlags,
  type DriverOptions,
  type RunningServer,
  type ServerDriver,
  type SessionShape,
} from './server-driver.js'

/**
 * `bare-ws-sqlite` and `bare-ws-postgres` are the bare ws server storing each message in that
 * database before broadcasting it: the floor under any server that does.
 */
export type BaselineKind = 'bare-ws' | 'bare-ws-sqlite' | 'bare-ws-postgres' | 'socket.io'

export interface BaselineOptions extends DriverOptions {
  kind: BaselineKind
  /**
   * More than one node: Socket.IO's share rooms through its Redis adapter, bare ws's relay their
   * broadcasts through Redis (`baselines/redis-relay.ts`).
   */
  nodes?: number
  redisUrl?: string
  /** `bare-ws-postgres` only: where it makes a schema of its own. */
  postgresUrl?: string
}

const PROGRAMS: Record<BaselineKind, string> = {
  'bare-ws': 'bare-ws-server.js',
  'bare-ws-sqlite': 'bare-ws-server.js',
  'bare-ws-postgres': 'bare-ws-server.js',
  'socket.io': 'socketio-server.js',
}

const LABELS: Record<BaselineKind, string> = {
  'bare-ws': 'bare ws',
  'bare-ws-sqlite': 'bare ws storing in SQLite',
  'bare-ws-postgres': 'bare ws storing in PostgreSQL',
  'socket.io': 'Socket.IO 4',
}

/**
 * A baseline server (see `baselines/`). Sessions need no preparing: there is no auth and no
 * session to store, so any id names a room, which exists once a socket joins it.
 */
export class BaselineDriver implements ServerDriver {
  readonly id: string
  readonly label: string
  readonly kind: BaselineKind
  readonly wire
  readonly nodeCount: number
  /** Where the floors store; absent for the baselines that store nothing. */
  readonly database: DatabaseKind | undefined

  get isProfiled(): boolean {
    return this.options.cpuProfileDir !== undefined
  }

  constructor(readonly options: BaselineOptions) {
    this.kind = options.kind
    this.nodeCount = options.nodes ?? 1
    this.database = (Object.keys(STORING_FLOORS) as DatabaseKind[]).find(
      (database) => STORING_FLOORS[database] === options.kind,
    )
    this.wire = options.kind === 'socket.io' ? ('socket.io' as const) : ('chat' as const)
    const base = options.kind === 'socket.io' ? 'socketio' : options.kind
    this.id = this.nodeCount > 1 ? `${base}-redis-${this.nodeCount}` : base
    const name = LABELS[options.kind]
    this.label = this.nodeCount > 1 ? `${name}, ${this.nodeCount} nodes over Redis` : name
  }

  async start(): Promise<RunningServer> {
    const nodes: ChildServer[] = []
    const storage = await this.#storage()
    try {
      for (let index = 0; index < this.nodeCount; index += 1) {
        const name = this.nodeCount > 1 ? `${this.id}-node${index + 1}` : this.id
        nodes.push(
          await ChildServer.start({
            name,
            script: path.join(import.meta.dirname, 'baselines', PROGRAMS[this.kind]),
            nodeFlags: profileFlags(this.options, name),
            env: { ...this.#env(), ...storage.env },
          }),
        )
      }
    } catch (error) {
      await Promise.all(nodes.map((node) => node.stop()))
      await storage.dispose()
      throw error
    }
    return new RunningBaseline(nodes, this.kind, storage)
  }

  #env(): Record<string, string> {
    return this.nodeCount > 1 ? { REDIS_URL: this.options.redisUrl ?? '' } : {}
  }

  /** A fresh database every start, so no run inherits another's rows. */
  async #storage(): Promise<BaselineStorage> {
    const none = async () => undefined
    if (this.kind === 'bare-ws-sqlite') {
      const folder = fs.mkdtempSync(path.join(this.options.workDir, `${this.id}-`))
      return { env: { SQLITE_FILE: path.join(folder, 'messages.db') }, dispose: none }
    }
    if (this.kind === 'bare-ws-postgres') {
      const postgresUrl = this.options.postgresUrl ?? ''
      const database = await createBenchDatabase('postgres', {
        workDir: this.options.workDir,
        postgresUrl,
      })
      return {
        env: { POSTGRES_URL: database.url },
        dispose: () => database.dispose(),
        readPostgresWork: () => readPostgresWork(postgresUrl),
      }
    }
    return { env: {}, dispose: none }
  }
}

/** Where a baseline keeps its messages: the environment that says so, and its cleanup. */
interface BaselineStorage {
  env: Record<string, string>
  dispose: () => Promise<void>
  readPostgresWork?: () => Promise<PostgresWork | undefined>
}

class RunningBaseline implements RunningServer {
  constructor(
    readonly nodes: readonly ChildServer[],
    readonly kind: BaselineKind,
    private readonly storage: BaselineStorage,
  ) {}

  async readPostgresWork(): Promise<PostgresWork | undefined> {
    return this.storage.readPostgresWork?.()
  }

  async prepareSessions(shape: SessionShape): Promise<SessionSpec[]> {
    return Array.from({ length: shape.sessions }, (_, sessionIndex) => {
      const id = randomUUID()
      return {
        id,
        clientUrls: Array.from({ length: shape.clientsPerSession }, (_, slot) =>
          this.#socketUrl(this.nodes[nodeFor(sessionIndex, slot, this.nodes.length)]!.port, id),
        ),
      }
    })
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((node) => node.stop()))
    await this.storage.dispose()
  }

  #socketUrl(port: number, sessionId: string): string {
    return this.kind !== 'socket.io'
      ? `ws://127.0.0.1:${port}/api/v1/chat/ws/${sessionId}`
      : `ws://127.0.0.1:${port}/socket.io/?EIO=4&transport=websocket&session_id=${sessionId}`
  }
}

/** The bare ws server storing in each database: the floor under any server that stores there. */
export const STORING_FLOORS: Record<DatabaseKind, BaselineKind> = {
  sqlite: 'bare-ws-sqlite',
  postgres: 'bare-ws-postgres',
}

/** How each floor stores (see `baselines/group-commit.ts`), as the report tells it. */
export const HOW_FLOORS_STORE: Record<DatabaseKind, string> = {
  sqlite:
    'a message-sized row with its primary key, committed with the others of its turn of the ' +
    'event loop, on that loop; no checkpoint during the run',
  postgres:
    'a message-sized row with its primary key, the messages of one turn of the event loop ' +
    'inserted by one statement and committed together, up to four batches in flight as our ' +
    "server keeps; PostgreSQL's defaults",
}
