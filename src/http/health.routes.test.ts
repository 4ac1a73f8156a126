import { afterEach, describe, expect, it } from 'vitest'
import { TcpProxy } from '../testing/tcp-proxy.js'
import {
  buildTestApp,
  createTestStore,
  postgresAddress,
  testDatabase,
  type TestApp,
} from '../testing/test-app.js'

describe('monitoring', () => {
  let t: TestApp | undefined
  afterEach(async () => {
    await t?.close()
    t = undefined
  })

  it('answers healthz and readyz while everything is up', async () => {
    t = await buildTestApp()

    const health = await t.app.inject('/healthz')
    const ready = await t.app.inject('/readyz')

    expect(health.json()).toEqual({ status: 'ok' })
    expect(ready.statusCode).toBe(200)
    expect(ready.json()).toEqual({ status: 'ready', database: 'up', bus: 'up' })
  })

  it('serves Prometheus text with request, message and connection metrics', async () => {
    t = await buildTestApp()
    const ana = await t.signUp('ana')
    const session = await ana.createSession()
    await ana.send(session.id, 'hello')

    const res = await t.app.inject('/metrics')

    expect(res.statusCode).toBe(200)
    expect(res.headers['content-type']).toMatch(/^text\/plain/)
    expect(res.body).toContain('http_request_duration_seconds_bucket')
    expect(res.body).toMatch(/route="\/api\/v1\/chat\/sessions\/:session_id\/messages"/)
    expect(res.body).toContain('chat_socket_connections')
    expect(res.body).toContain('process_cpu_seconds_total')
  })

  it('gives agents ws-stats in the guide’s shape, zero without sockets', async () => {
    t = await buildTestApp()
    const sam = await t.signUp('sam', 'agent')

    const res = await sam.get('/api/v1/chat/ws-stats')

    expect(res.json()).toEqual({
      total_sessions: 0,
      total_connections: 0,
      average_users_per_session: 0,
      sessions: {},
      nodes: 1,
    })
  })

  it('answers readyz 503 and sends 503 while the database is unreachable, then recovers', async () => {
    // PostgreSQL is a server: the test cuts a proxy in front of it, then restores it. SQLite is a
    // file inside the process: "unreachable" is a closed handle, with no way back.
    const proxy = new TcpProxy(postgresAddress())
    await proxy.open()
    const store =
      testDatabase === 'postgres' ? await createTestStore({ via: proxy }) : await createTestStore()
    const app = await buildTestApp({ store })
    const ana = await app.signUp('ana')
    const session = await ana.createSession()

    if (testDatabase === 'postgres') await proxy.cut()
    else await store.store.close()
    const ready = await app.app.inject('/readyz')
    const send = await ana.post(`/api/v1/chat/sessions/${session.id}/messages`, {
      content: 'lost?',
    })

    expect(ready.statusCode).toBe(503)
    expect(ready.json()).toMatchObject({ status: 'unavailable', database: 'down' })
    expect(send.statusCode).toBe(503)
    expect(send.json()).toEqual({ detail: expect.any(String), code: 'unavailable' })
    if (testDatabase === 'postgres') {
      await proxy.open()
      const back = await ana.post(`/api/v1/chat/sessions/${session.id}/messages`, {
        content: 'back',
      })
      expect(back.statusCode).toBe(201)
      expect(back.json()).toMatchObject({ seq: 1 })
      expect((await app.app.inject('/readyz')).statusCode).toBe(200)
    }

    await app.close()
    await store.drop()
    await proxy.close()
  })
})

describe('CORS', () => {
  let t: TestApp | undefined
  afterEach(async () => {
    await t?.close()
    t = undefined
  })

  const preflight = (app: TestApp, origin: string) =>
    app.app.inject({
      method: 'OPTIONS',
      url: '/api/v1/chat/sessions',
      headers: {
        origin,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization,content-type',
      },
    })

  it('lets the listed portal origin call the API from a browser, and no other', async () => {
    t = await buildTestApp({ env: { CORS_ORIGINS: 'https://portal.example.com' } })

    const portal = await preflight(t, 'https://portal.example.com')
    const other = await preflight(t, 'https://evil.example.com')

    expect(portal.headers['access-control-allow-origin']).toBe('https://portal.example.com')
    expect(String(portal.headers['access-control-allow-headers'])).toMatch(/authorization/i)
    expect(other.headers['access-control-allow-origin']).toBeUndefined()
  })

  it('allows no cross-origin access when CORS_ORIGINS is unset', async () => {
    t = await buildTestApp()

    const res = await preflight(t, 'https://portal.example.com')

    expect(res.headers['access-control-allow-origin']).toBeUndefined()
  })
})
