import { spawn } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import readline from 'node:readline'
import { childPids, sampleProcess, type ProcessSample } from './process-meter.js'

/**
 * Real nginx in front of real nodes, running the shipped `deploy/nginx.conf` with only addresses
 * changed. The bench's `nginx` workload and the tests (`test/support/nginx.ts`, `test/cluster/`)
 * both start it from here, so what is measured is what is tested: the file a deployment ships.
 */

export const NGINX_BINARY = '/usr/sbin/nginx'
const KEPT_LOG_LINES = 50

export interface Nginx {
  /** `127.0.0.1:port` */
  address: string
  accessLog: string
  /** The master process; its workers are its children. */
  pid: number
  /** CPU time and memory of the master and its workers together. */
  sample(): ProcessSample
  stop(): Promise<void>
}

/** Undefined when nginx can be run; else why not (the bench's rows say so under "Not run"). */
export function nginxProblem(): string | undefined {
  try {
    fs.accessSync(NGINX_BINARY, fs.constants.X_OK)
    return undefined
  } catch (error) {
    return `no nginx at ${NGINX_BINARY}: ${error instanceof Error ? error.message : String(error)}`
  }
}

/**
 * Starts nginx with the shipped config adapted to loopback (its listen port, the given node ports
 * as upstreams, its pid file and logs in `dir`) and resolves once `/healthz` answers through it.
 *
 * Like the bench's server children, nginx starts under `sh -c 'ulimit -n <hard limit>; exec …'`:
 * every proxied socket costs it two file descriptors (client and upstream), and the config's
 * `worker_connections 16384` is of no use under a soft limit of 1,024.
 */
export async function startNginx(nodePorts: number[], dir: string): Promise<Nginx> {
  const port = await freePort()
  const accessLog = path.join(dir, 'access.log')
  const config = path.join(dir, 'nginx.conf')
  fs.mkdirSync(dir, { recursive: true })
  fs.writeFileSync(
    config,
    adaptNginxConfig(fs.readFileSync(shippedConfig(), 'utf8'), port, nodePorts, dir, accessLog),
  )
  const child = spawn(
    '/bin/sh',
    [
      '-c',
      'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$0" "$@"',
      NGINX_BINARY,
      ...['-p', dir, '-c', config, '-g', 'daemon off;'],
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  )
  // What nginx says before it has opened its error log (a bad config, a port in use).
  const output: string[] = []
  for (const stream of [child.stdout, child.stderr]) {
    readline.createInterface({ input: stream }).on('line', (line) => {
      output.push(line)
      if (output.length > KEPT_LOG_LINES) output.shift()
    })
  }
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
    await exited
  }
  const address = `127.0.0.1:${port}`
  let hasExited = false
  void exited.then(() => (hasExited = true))
  try {
    await waitForHttp(`http://${address}/healthz`, 10_000, () => hasExited)
  } catch (error) {
    await stop()
    const errorLog = path.join(dir, 'error.log')
    const logged = fs.existsSync(errorLog) ? fs.readFileSync(errorLog, 'utf8').trim() : ''
    throw new Error(
      `nginx did not start: ${error instanceof Error ? error.message : String(error)}\n` +
        [...output, logged].filter((text) => text !== '').join('\n'),
    )
  }
  const pid = child.pid!
  return {
    address,
    accessLog,
    pid,
    sample: () => sampleProcesses([pid, ...childPids(pid)]),
    stop,
  }
}

/**
 * The shipped config with only addresses changed: the three `server nodeN:8000` lines of each
 * upstream become the given ports, it listens on `port` of loopback, and its pid file and logs go
 * to `dir`. Throws if the file no longer has the shape this relies on, rather than run nginx on
 * a config that silently kept the original upstreams.
 */
export function adaptNginxConfig(
  config: string,
  port: number,
  nodePorts: number[],
  dir: string,
  accessLog: string,
): string {
  const servers = nodePorts
    .map((p) => `        server 127.0.0.1:${p} max_fails=1 fail_timeout=2s;`)
    .join('\n')
  const adapted = config
    .replace(/^ {8}server node\d:8000[^\n]*\n/gm, '')
    .replace(/(upstream chat_by_session \{\n[^\n]*\n)/, `$1${servers}\n`)
    .replace(/(upstream chat_nodes \{\n[^\n]*\n)/, `$1${servers}\n`)
    .replace('listen 80;', `listen 127.0.0.1:${port};`)
    .replace('pid /tmp/swipesavvy-nginx.pid;', `pid ${path.join(dir, 'nginx.pid')};`)
    .replace('access_log /dev/stdout chat;', `access_log ${accessLog} chat;`)
    .replace('error_log /dev/stderr warn;', `error_log ${path.join(dir, 'error.log')} warn;`)
  if (adapted.includes('node1:8000') || !adapted.includes(`127.0.0.1:${nodePorts[0]}`)) {
    throw new Error('deploy/nginx.conf no longer has the shape this harness adapts')
  }
  return adapted
}

/**
 * `deploy/nginx.conf` of this checkout. Looked for upwards, since this module runs both from
 * source (the tests: `bench/servers/`) and built (the bench: `dist/bench/servers/`).
 */
function shippedConfig(): string {
  for (let dir = import.meta.dirname; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'deploy', 'nginx.conf')
    if (fs.existsSync(candidate)) return candidate
    if (path.dirname(dir) === dir) throw new Error('deploy/nginx.conf not found')
  }
}

/** Sums `sampleProcess` over `pids`, skipping any that exited meanwhile. */
function sampleProcesses(pids: number[]): ProcessSample {
  const total: ProcessSample = {
    cpuMicros: 0,
    mainThreadCpuMicros: 0,
    mainThreadWaitMicros: undefined,
    otherThreadsCpuMicros: new Map(),
    rssBytes: 0,
    atMs: performance.now(),
  }
  for (const pid of pids) {
    try {
      const sample = sampleProcess(pid)
      total.cpuMicros += sample.cpuMicros
      total.mainThreadCpuMicros += sample.mainThreadCpuMicros
      for (const [tid, cpuMicros] of sample.otherThreadsCpuMicros)
        total.otherThreadsCpuMicros.set(tid, cpuMicros)
      total.rssBytes += sample.rssBytes
    } catch {
      // A worker that exited between listing and reading: its CPU is gone with it.
    }
  }
  return total
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo
      server.close(() => resolve(port))
    })
    server.on('error', reject)
  })
}

/** Resolves once `url` answers 2xx; rejects after `timeoutMs`, or as soon as `hasGivenUp()`. */
export async function waitForHttp(
  url: string,
  timeoutMs = 10_000,
  hasGivenUp: () => boolean = () => false,
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (
      await fetch(url).then(
        (r) => r.ok,
        () => false,
      )
    )
      return
    if (hasGivenUp()) throw new Error(`the process serving ${url} exited`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error(`${url} did not answer`)
}
