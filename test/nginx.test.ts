import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestStore, testRedisUrl, type TestStore } from '../src/testing/test-app.js'
import { TestSocket } from '../src/testing/test-socket.js'
import { startNginx, type Nginx } from './support/nginx.js'
import { startServerProcess, type ServerProcess } from './support/server-process.js'

/**
 * The shipped deploy/nginx.conf, with only addresses changed, in front of two real node processes
 * joined by Redis: the proxy blocks of the guide work, a session's sockets land on one node, other
 * paths are balanced, and the access log holds no query string (tokens travel there).
 */
describe.runIf(testRedisUrl !== undefined)('nginx in front of two nodes', () => {
  let store: TestStore
  let nodes: ServerProcess[] = []
  let nginx: Nginx | undefined
  let dir: string
  let base: string
  let accessLog: string

  beforeAll(async () => {
    store = await createTestStore()
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chat-nginx-'))
    const env = {
      ...store.databaseEnv,
      REDIS_URL: testRedisUrl!,
      REDIS_PREFIX: `nginx-${randomBytes(4).toString('hex')}:`,
      JWT_SECRET: 'nginx-test-secret-nginx-test-secret-0123456789',
      TRUST_PROXY: 'true',
      AUTH_RATE_PER_MINUTE: '1000',
    }
    nodes = [
      await startServerProcess({ ...env, NODE_ID: 'node1', DATA_DIR: path.join(dir, 'n1') }),
      await startServerProcess({ ...env, NODE_ID: 'node2', DATA_DIR: path.join(dir, 'n2') }),
    ]
    nginx = await startNginx(
      nodes.map((node) => node.port),
      dir,
    )
    base = nginx.address
    accessLog = nginx.accessLog
  }, 60_000)

  afterAll(async () => {
    await nginx?.stop()
    for (const node of nodes) await node.stop('SIGKILL')
    await store?.drop()
    fs.rmSync(dir, { recursive: true, force: true })
  })

  async function user(name: string) {
    const email = `${name}-${randomBytes(3).toString('hex')}@example.com`
    await post('/api/v1/auth/register', { email, password: 'password123' })
    const { access_token } = (await post('/api/v1/auth/login', {
      email,
      password: 'password123',
    })) as { access_token: string }
    const me = (await (
      await fetch(`http://${base}/api/v1/auth/me`, {
        headers: { authorization: `Bearer ${access_token}` },
      })
    ).json()) as { id: string }
    return { id: me.id, token: access_token }
  }

  async function post(url: string, body: unknown, token?: string): Promise<unknown> {
    const res = await fetch(`http://${base}${url}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(token && { authorization: `Bearer ${token}` }),
      },
      body: JSON.stringify(body),
    })
    if (!res.ok) throw new Error(`${url}: ${res.status} ${await res.text()}`)
    return res.json()
  }

  it('serves the guide’s REST calls and both socket forms through the proxy', async () => {
    const [ana, bob] = [await user('ana'), await user('bob')]
    const session = (await post(
      '/api/v1/chat/sessions',
      { title: 'Support Chat', participant_ids: [bob.id] },
      ana.token,
    )) as { id: string }

    const a = new TestSocket(`ws://${base}/api/v1/chat/ws/${session.id}?token=${ana.token}`)
    await a.next('user_joined')
    const b = new TestSocket(`ws://${base}/api/v1/chat/ws?token=${bob.token}`)
    await b.opened
    b.send({ message_type: 'subscribe', chat_session_id: session.id })
    await b.next('subscribed')
    a.send({ message_type: 'text', content: 'through nginx' })
    const received = await b.next('message')
    for (let i = 0; i < 4; i++)
      await post(
        `/api/v1/chat/sessions/${session.id}/messages`,
        { content: `rest ${i}` },
        bob.token,
      )
    await a.next('message', 4)

    expect(received).toMatchObject({ content: 'through nginx', metadata: { seq: 1 } })
    expect(a.of('message').map((m) => m.metadata.seq)).toEqual([1, 2, 3, 4, 5])
    await a.close()
    await b.close()
  })

  it('keeps one session’s sockets on one node, and works without that affinity too', async () => {
    const [ana, bob] = [await user('carol'), await user('dan')]
    const session = (await post(
      '/api/v1/chat/sessions',
      { title: 'Affinity', participant_ids: [bob.id] },
      ana.token,
    )) as { id: string }
    const before = fs.readFileSync(accessLog, 'utf8').length

    const viaProxy = [1, 2, 3].map(
      () => new TestSocket(`ws://${base}/api/v1/chat/ws/${session.id}?token=${ana.token}`),
    )
    await Promise.all(viaProxy.map((s) => s.opened))
    const direct = nodes.map(
      (node) =>
        new TestSocket(
          `ws://127.0.0.1:${node.port}/api/v1/chat/ws/${session.id}?token=${bob.token}`,
        ),
    )
    await Promise.all(direct.map((s) => s.opened))
    await new Promise((resolve) => setTimeout(resolve, 200))
    viaProxy[0]!.send({ message_type: 'text', content: 'everyone hears this' })
    await Promise.all(direct.map((s) => s.next('message')))
    for (const s of [...viaProxy, ...direct]) await s.close()
    await new Promise((resolve) => setTimeout(resolve, 300))

    const socketLines = fs
      .readFileSync(accessLog, 'utf8')
      .slice(before)
      .split('\n')
      .filter((line) => line.includes(`/api/v1/chat/ws/${session.id}`))
    const upstreams = new Set(socketLines.map((line) => /"([^"]*)"\s*$/.exec(line)?.[1]))
    expect(socketLines).toHaveLength(3)
    expect(upstreams.size).toBe(1)
  })

  it('logs no query string, so no token', async () => {
    const ana = await user('erin')
    const session = (await post('/api/v1/chat/sessions', { title: 'Log' }, ana.token)) as {
      id: string
    }
    const socket = new TestSocket(`ws://${base}/api/v1/chat/ws/${session.id}?token=${ana.token}`)
    await socket.next('user_joined')
    await socket.close()
    await new Promise((resolve) => setTimeout(resolve, 300))

    const log = fs.readFileSync(accessLog, 'utf8')
    expect(log).toContain(`/api/v1/chat/ws/${session.id}`)
    expect(log).not.toContain('token=')
    expect(log).not.toContain(ana.token)
  })
})
