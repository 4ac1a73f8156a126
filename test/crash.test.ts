import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import WebSocket from 'ws'
import { afterEach, describe, expect, it } from 'vitest'
import { createTestStore, type TestStore } from '../src/testing/test-app.js'
import {
  ChatClient,
  RestClient,
  type ChatSocketError,
  type Message,
  type MessageFrame,
  type SocketForm,
} from '../sdk/index.js'
import { startServerProcess, type ServerProcess } from './support/server-process.js'
import { until } from './support/sdk-app.js'

const JWT_SECRET = 'crash-test-secret-that-is-long-enough-0123456789'
const SEND_EVERY_MS = 10
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const range = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => from + i)

/** A customer made through the child server's own API, with a token that survives restarts. */
async function signUp(baseUrl: string, name: string): Promise<{ rest: RestClient; id: string }> {
  const rest = new RestClient({ baseUrl })
  const credentials = { email: `${name}@example.com`, password: 'password123' }
  const user = await rest.register({ ...credentials, full_name: name })
  await rest.login(credentials)
  return { rest, id: user.id }
}

describe('the SDK across a server killed mid-stream', () => {
  let db: TestStore | undefined
  let server: ServerProcess | undefined
  let dataDir: string | undefined
  const clients: ChatClient[] = []
  afterEach(async () => {
    for (const client of clients.splice(0)) client.close()
    await server?.stop('SIGKILL')
    server = undefined
    await db?.drop()
    db = undefined
    if (dataDir !== undefined) fs.rmSync(dataDir, { recursive: true, force: true })
  })

  it('loses no acknowledged message and shows every client every message once, in order', async () => {
    db = await createTestStore()
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'chat-crash-'))
    const env = {
      ...db.databaseEnv,
      DATA_DIR: dataDir,
      JWT_SECRET,
      MESSAGE_RATE_PER_SECOND: '1000',
      MESSAGE_RATE_BURST: '1000',
    }
    server = await startServerProcess(env)
    const { url, port } = server
    const users = await Promise.all(['ana', 'ben', 'cy'].map((name) => signUp(url, name)))
    const [ana, ben, cy] = users as [(typeof users)[0], (typeof users)[0], (typeof users)[0]]
    const session = await ana.rest.createSession({
      title: 'Crash',
      participant_ids: [ben.id, cy.id],
    })
    // Both socket forms take part.
    const forms: SocketForm[] = ['per-session', 'multiplexed', 'per-session']
    const received: MessageFrame[][] = []
    for (const [i, user] of users.entries()) {
      const client = new ChatClient({
        baseUrl: url,
        token: user.rest.token,
        WebSocket,
        socketForm: forms[i],
        backoff: { baseMs: 50, maxMs: 400 },
      })
      const inbox: MessageFrame[] = []
      client.on('message', (message) => inbox.push(message))
      clients.push(client)
      received.push(inbox)
    }
    await Promise.all(clients.map((client) => client.join(session.id)))

    const acknowledged: MessageFrame[] = []
    const rejected: ChatSocketError[] = []
    let isSending = true
    const senders = clients.map(async (client, i) => {
      for (let n = 1; isSending; n++) {
        client.send(session.id, { content: `${i}:${n}` }).then(
          (message) => acknowledged.push(message),
          (error: ChatSocketError) => rejected.push(error),
        )
        await sleep(SEND_EVERY_MS)
      }
    })
    await until(() => acknowledged.length >= 100, 'traffic before the kill')
    expect(await server.stop('SIGKILL')).toBe(null)
    const acknowledgedBeforeKill = [...acknowledged]
    const unacknowledgedAtKill = clients.reduce((sum, client) => sum + client.unacknowledged(), 0)
    await sleep(300)
    server = await startServerProcess({ ...env, PORT: String(port) })
    await until(() => acknowledged.length >= acknowledgedBeforeKill.length + 200, 'traffic after')
    isSending = false
    await Promise.all(senders)
    await until(
      () => clients.every((client) => client.unacknowledged() === 0),
      'every send acknowledged',
      10_000,
    )
    const total = (await ana.rest.getSession(session.id)).total_messages
    await until(
      () => received.every((inbox) => inbox.length >= total),
      'every client caught up',
      10_000,
    )

    const history: Message[] = []
    for await (const page of ana.rest.historyPages(session.id, { limit: 100 })) {
      history.unshift(...page.reverse())
    }
    const timesInHistory = new Map<string | null, number>()
    for (const message of history) {
      timesInHistory.set(
        message.client_message_id,
        (timesInHistory.get(message.client_message_id) ?? 0) + 1,
      )
    }
    expect(server.port).toBe(port)
    expect(unacknowledgedAtKill).toBeGreaterThan(0)
    expect(rejected).toEqual([])
    expect(history.map((m) => m.seq)).toEqual(range(1, total))
    expect(acknowledged).toHaveLength(total)
    for (const message of acknowledged) {
      expect(timesInHistory.get(message.metadata.client_message_id)).toBe(1)
    }
    for (const message of acknowledgedBeforeKill) {
      expect(history[message.metadata.seq - 1]?.id).toBe(message.metadata.message_id)
    }
    for (const inbox of received) {
      expect(inbox.map((m) => m.metadata.seq)).toEqual(range(1, total))
      expect(inbox.map((m) => m.metadata.message_id)).toEqual(history.map((m) => m.id))
    }
  }, 30_000)
})
