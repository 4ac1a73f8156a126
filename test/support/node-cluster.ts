import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { startNginx, type Nginx } from './nginx.js'
import { startServerProcess, type ServerProcess } from './server-process.js'

export interface NodeCluster {
  /** nginx in front of every node: where clients connect. */
  baseUrl: string
  nodes: Array<ServerProcess | undefined>
  ports: number[]
  /** Stops node `i` with `signal` and resolves with its exit code. */
  stop(i: number, signal: NodeJS.Signals): Promise<number | null>
  /** Starts node `i` again on its port. */
  start(i: number): Promise<void>
  /** The node with the most open sockets, from each node's /metrics. */
  busiest(): Promise<number>
  close(): Promise<void>
}

export const CLUSTER_JWT_SECRET = 'cluster-test-secret-cluster-test-secret-0123'

/**
 * Node processes of the built server sharing one database and one Redis, behind real nginx with
 * the shipped configuration: the deployment the README describes, on loopback.
 */
export async function startNodeCluster(options: {
  count: number
  databaseEnv: Record<string, string>
  redisUrl: string
  env?: Record<string, string>
}): Promise<NodeCluster> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chat-cluster-'))
  const env = (i: number) => ({
    ...options.databaseEnv,
    REDIS_URL: options.redisUrl,
    REDIS_PREFIX: `cluster-${path.basename(dir)}:`,
    JWT_SECRET: CLUSTER_JWT_SECRET,
    NODE_ID: `node${i + 1}`,
    DATA_DIR: path.join(dir, `node${i + 1}`),
    TRUST_PROXY: 'true',
    AUTH_RATE_PER_MINUTE: '10000',
    MESSAGE_RATE_PER_SECOND: '1000',
    MESSAGE_RATE_BURST: '1000',
    NODE_TIMEOUT_MS: '3000',
    SHUTDOWN_GRACE_MS: '3000',
    ...options.env,
  })
  const nodes: Array<ServerProcess | undefined> = []
  for (let i = 0; i < options.count; i++) nodes.push(await startServerProcess(env(i)))
  const ports = nodes.map((node) => node!.port)
  const nginx: Nginx = await startNginx(ports, dir)

  const cluster: NodeCluster = {
    baseUrl: `http://${nginx.address}`,
    nodes,
    ports,
    stop: async (i, signal) => {
      const node = nodes[i]
      nodes[i] = undefined
      return (await node?.stop(signal)) ?? null
    },
    start: async (i) => {
      nodes[i] = await startServerProcess({ ...env(i), PORT: String(ports[i]) })
    },
    busiest: async () => {
      const counts = await Promise.all(
        ports.map(async (port, i) => {
          if (nodes[i] === undefined) return -1
          const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()
          return Number(/^chat_socket_connections (\d+)/m.exec(text)?.[1] ?? 0)
        }),
      )
      return counts.indexOf(Math.max(...counts))
    },
    close: async () => {
      await nginx.stop()
      for (const node of nodes) await node?.stop('SIGKILL')
      fs.rmSync(dir, { recursive: true, force: true })
    },
  }
  return cluster
}

export const uniqueName = (name: string) => `${name}-${randomBytes(3).toString('hex')}`
