import { spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'

const NGINX = '/usr/sbin/nginx'
const SHIPPED_CONFIG = path.resolve(import.meta.dirname, '../../deploy/nginx.conf')

export interface Nginx {
  /** `127.0.0.1:port` */
  address: string
  accessLog: string
  stop(): Promise<void>
}

/**
 * Real nginx running the shipped deploy/nginx.conf, with only addresses changed: its listen port,
 * the given node ports as upstreams, and its files in `dir`.
 */
export async function startNginx(nodePorts: number[], dir: string): Promise<Nginx> {
  const port = await freePort()
  const accessLog = path.join(dir, 'access.log')
  const config = path.join(dir, 'nginx.conf')
  fs.writeFileSync(
    config,
    adaptConfig(fs.readFileSync(SHIPPED_CONFIG, 'utf8'), port, nodePorts, dir, accessLog),
  )
  const child: ChildProcess = spawn(NGINX, ['-p', dir, '-c', config, '-g', 'daemon off;'], {
    stdio: 'inherit',
  })
  const exited = new Promise((resolve) => child.once('exit', resolve))
  const address = `127.0.0.1:${port}`
  await waitForHttp(`http://${address}/healthz`)
  return {
    address,
    accessLog,
    stop: async () => {
      child.kill('SIGTERM')
      await exited
    },
  }
}

function adaptConfig(
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

export async function waitForHttp(url: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (
      await fetch(url).then(
        (r) => r.ok,
        () => false,
      )
    )
      return
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error(`${url} did not answer`)
}
