/**
 * REST throughput with autocannon: `GET …/messages?limit=50` and `POST …/messages` against the built
 * server, on SQLite and on PostgreSQL, one after the other in one run.
 *
 *   npm run build && node dist/bench/rest-api.js [--seconds 10] [--connections 10] [--db sqlite|postgres|both]
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import readline from 'node:readline'
import { parseArgs } from 'node:util'
import autocannon from 'autocannon'
import pg from 'pg'

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    connections: { type: 'string', default: '10' },
    db: { type: 'string', default: 'both' },
  },
})
const seconds = Number(values.seconds)
const connections = Number(values.connections)
const postgresUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
const CLI = path.resolve(import.meta.dirname, '../src/cli.js')

interface Row {
  database: string
  route: string
  requestsPerSecond: number
  p50Ms: number
  p99Ms: number
  errors: number
}

async function startServer(
  database: 'sqlite' | 'postgres',
): Promise<{ url: string; stop(): Promise<void> }> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'chat-rest-bench-'))
  const schema = `bench_${randomBytes(4).toString('hex')}`
  if (database === 'postgres') await sql(`create schema ${schema}`)
  const child: ChildProcess = spawn(process.execPath, [CLI, 'serve'], {
    env: {
      PATH: process.env.PATH,
      PORT: '0',
      HOST: '127.0.0.1',
      DATA_DIR: dataDir,
      LOG_LEVEL: 'info',
      JWT_SECRET: 'rest-bench-secret-rest-bench-secret-0123456789',
      MESSAGE_RATE_PER_SECOND: '1000000',
      MESSAGE_RATE_BURST: '1000000',
      ...(database === 'postgres' && {
        DATABASE_URL: `${postgresUrl}?options=${encodeURIComponent(`-c search_path=${schema}`)}`,
      }),
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const port = await new Promise<number>((resolve, reject) => {
    readline.createInterface({ input: child.stdout! }).on('line', (line) => {
      const match = /listening on http:\/\/[^:]+:(\d+)/.exec(line)
      if (match) resolve(Number(match[1]))
    })
    child.once('exit', (code) => reject(new Error(`server exited with ${code}`)))
  })
  return {
    url: `http://127.0.0.1:${port}`,
    stop: async () => {
      child.kill('SIGTERM')
      await new Promise((resolve) => child.once('exit', resolve))
      fs.rmSync(dataDir, { recursive: true, force: true })
      if (database === 'postgres') await sql(`drop schema ${schema} cascade`)
    },
  }
}

async function sql(text: string): Promise<void> {
  const client = new pg.Client({ connectionString: postgresUrl })
  await client.connect()
  await client.query(text)
  await client.end()
}

async function call<T>(url: string, init: RequestInit & { token?: string } = {}): Promise<T> {
  const res = await fetch(url, {
    ...init,
    headers: {
      'content-type': 'application/json',
      ...(init.token !== undefined && { authorization: `Bearer ${init.token}` }),
    },
  })
  if (!res.ok) throw new Error(`${init.method ?? 'GET'} ${url}: ${res.status} ${await res.text()}`)
  return (await res.json()) as T
}

async function measure(database: 'sqlite' | 'postgres'): Promise<Row[]> {
  const server = await startServer(database)
  try {
    const credentials = JSON.stringify({ email: 'bench@example.com', password: 'password123' })
    await call(`${server.url}/api/v1/auth/register`, { method: 'POST', body: credentials })
    const { access_token: token } = await call<{ access_token: string }>(
      `${server.url}/api/v1/auth/login`,
      {
        method: 'POST',
        body: credentials,
      },
    )
    const session = await call<{ id: string }>(`${server.url}/api/v1/chat/sessions`, {
      method: 'POST',
      token,
      body: JSON.stringify({ title: 'bench' }),
    })
    const messages = `${server.url}/api/v1/chat/sessions/${session.id}/messages`
    for (let i = 0; i < 1000; i++) {
      await call(messages, {
        method: 'POST',
        token,
        body: JSON.stringify({ content: `seed ${i}` }),
      })
    }
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' }
    const runs: Array<[string, autocannon.Options]> = [
      ['GET …/messages?limit=50', { url: `${messages}?limit=50`, headers }],
      [
        'POST …/messages',
        {
          url: messages,
          method: 'POST',
          headers,
          body: JSON.stringify({ content: 'Hello, I need help with my wallet' }),
        },
      ],
    ]
    const rows: Row[] = []
    for (const [route, options] of runs) {
      const result = await autocannon({ ...options, connections, duration: seconds })
      rows.push({
        database,
        route,
        requestsPerSecond: Math.round(result.requests.average),
        p50Ms: result.latency.p50,
        p99Ms: result.latency.p99,
        errors: result.errors + result.non2xx,
      })
    }
    return rows
  } finally {
    await server.stop()
  }
}

const databases =
  values.db === 'both' ? (['sqlite', 'postgres'] as const) : [values.db as 'sqlite' | 'postgres']
const rows: Row[] = []
for (const database of databases) rows.push(...(await measure(database)))

console.log(
  `\nautocannon, ${connections} connections × ${seconds} s, ${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'unknown CPU'})\n`,
)
console.log('| database | route | req/s | p50 ms | p99 ms | errors |')
console.log('|---|---|---:|---:|---:|---:|')
for (const row of rows) {
  console.log(
    `| ${row.database} | ${row.route} | ${row.requestsPerSecond} | ${row.p50Ms} | ${row.p99Ms} | ${row.errors} |`,
  )
}
