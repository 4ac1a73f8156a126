import { randomUUID } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import type { SessionSpec } from '../load/worker-protocol.js'
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
 * `bare-ws-sqlite` is the bare ws server storing each message in SQLite before broadcasting it: the
 * floor under any server that does.
 */
export type BaselineKind = 'bare-ws' | 'bare-ws-sqlite' | 'socket.io'

export interface BaselineOptions extends DriverOptions {
  kind: BaselineKind
  /** Socket.IO only: more than one node shares rooms through its Redis adapter. */
  nodes?: number
  redisUrl?: string
}

const PROGRAMS: Record<BaselineKind, string> = {
  'bare-ws': 'bare-ws-server.js',
  'bare-ws-sqlite': 'bare-ws-server.js',
  'socket.io': 'socketio-server.js',
}

const LABELS: Record<BaselineKind, string> = {
  'bare-ws': 'bare ws',
  'bare-ws-sqlite': 'bare ws storing in SQLite',
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

  get isProfiled(): boolean {
    return this.options.cpuProfileDir !== undefined
  }

  constructor(readonly options: BaselineOptions) {
    this.kind = options.kind
    this.nodeCount = options.nodes ?? 1
    this.wire = options.kind === 'socket.io' ? ('socket.io' as const) : ('chat' as const)
    const base = options.kind === 'socket.io' ? 'socketio' : options.kind
    this.id = this.nodeCount > 1 ? `${base}-redis-${this.nodeCount}` : base
    const name = LABELS[options.kind]
    this.label = this.nodeCount > 1 ? `${name}, ${this.nodeCount} nodes over Redis` : name
  }

  async start(): Promise<RunningServer> {
    const nodes: ChildServer[] = []
    try {
      for (let index = 0; index < this.nodeCount; index += 1) {
        const name = this.nodeCount > 1 ? `${this.id}-node${index + 1}` : this.id
        nodes.push(
          await ChildServer.start({
            name,
            script: path.join(import.meta.dirname, 'baselines', PROGRAMS[this.kind]),
            nodeFlags: profileFlags(this.options, name),
            env: this.#env(name),
          }),
        )
      }
    } catch (error) {
      await Promise.all(nodes.map((node) => node.stop()))
      throw error
    }
    return new RunningBaseline(nodes, this.kind)
  }

  #env(name: string): Record<string, string> {
    if (this.nodeCount > 1) return { REDIS_URL: this.options.redisUrl ?? '' }
    if (this.kind !== 'bare-ws-sqlite') return {}
    // A fresh file every start, so no run inherits another's rows.
    const folder = fs.mkdtempSync(path.join(this.options.workDir, `${name}-`))
    return { SQLITE_FILE: path.join(folder, 'messages.db') }
  }
}

class RunningBaseline implements RunningServer {
  constructor(
    readonly nodes: readonly ChildServer[],
    readonly kind: BaselineKind,
  ) {}

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
  }

  #socketUrl(port: number, sessionId: string): string {
    return this.kind !== 'socket.io'
      ? `ws://127.0.0.1:${port}/api/v1/chat/ws/${sessionId}`
      : `ws://127.0.0.1:${port}/socket.io/?EIO=4&transport=websocket&session_id=${sessionId}`
  }
}
