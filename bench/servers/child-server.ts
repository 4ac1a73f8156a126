import { spawn, type ChildProcess } from 'node:child_process'
import readline from 'node:readline'
import { openFileLimit, sampleProcess, type ProcessSample } from './process-meter.js'

export interface ChildServerOptions {
  /** Shown in errors. */
  name: string
  /** The Node.js program to run, and its arguments. */
  script: string
  args?: string[]
  env: Record<string, string>
  /** Extra flags for `node` itself (the bench passes `--cpu-prof …` here). */
  nodeFlags?: string[]
  readyTimeoutMs?: number
}

const LISTENING = /listening on http:\/\/[^:\s]+:(\d+)/
const KEPT_LOG_LINES = 200

/**
 * A server under test in a process of its own, so its CPU and memory can be read from `/proc`
 * alike for our server and the baselines. Every server announces itself with a log line containing
 * "listening on http://HOST:PORT"; it is started on port 0 and the line says which port it got.
 *
 * The child runs under `sh -c 'ulimit -n <hard limit>; exec node …'`: the soft limit on open files
 * is raised to the hard one, since every socket costs a file descriptor. Raising the hard limit
 * itself takes root (CAP_SYS_RESOURCE); `openFiles` reports what the child actually got.
 */
export class ChildServer {
  readonly #child: ChildProcess
  readonly #exited: Promise<number | null>
  readonly logs: string[]

  private constructor(
    readonly name: string,
    readonly port: number,
    child: ChildProcess,
    exited: Promise<number | null>,
    logs: string[],
  ) {
    this.#child = child
    this.#exited = exited
    this.logs = logs
  }

  static async start(options: ChildServerOptions): Promise<ChildServer> {
    const command = [...(options.nodeFlags ?? []), options.script, ...(options.args ?? [])]
    const child = spawn(
      '/bin/sh',
      ['-c', 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$0" "$@"', process.execPath, ...command],
      {
        env: { PATH: process.env.PATH ?? '', PORT: '0', HOST: '127.0.0.1', ...options.env },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    )
    const logs: string[] = []
    const exited = new Promise<number | null>((resolve) =>
      child.once('exit', (code) => resolve(code)),
    )
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${options.name} did not start:\n${logs.join('\n')}`)),
        options.readyTimeoutMs ?? 30_000,
      )
      for (const stream of [child.stdout, child.stderr]) {
        readline.createInterface({ input: stream }).on('line', (line) => {
          logs.push(line)
          if (logs.length > KEPT_LOG_LINES) logs.shift()
          const port = LISTENING.exec(line)?.[1]
          if (port !== undefined) {
            clearTimeout(timer)
            resolve(Number(port))
          }
        })
      }
      void exited.then((code) => {
        clearTimeout(timer)
        // Reports keep an error's first line: the last thing the server said is usually why.
        const last = logs.findLast((line) => line.trim() !== '') ?? 'nothing logged'
        reject(new Error(`${options.name} exited with ${code}: ${last}\n${logs.join('\n')}`))
      })
    })
    return new ChildServer(options.name, port, child, exited, logs)
  }

  get pid(): number {
    return this.#child.pid!
  }

  get isRunning(): boolean {
    return this.#child.exitCode === null && this.#child.signalCode === null
  }

  sample(): ProcessSample {
    return sampleProcess(this.pid)
  }

  openFiles(): { soft: number; hard: number } {
    return openFileLimit(this.pid)
  }

  /** SIGTERM, and SIGKILL if it has not exited in `graceMs` (a CPU profile is written on exit). */
  async stop(graceMs = 15_000): Promise<void> {
    if (!this.isRunning) return
    this.#child.kill('SIGTERM')
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), graceMs)
    await this.#exited
    clearTimeout(timer)
  }
}
