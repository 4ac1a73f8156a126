import { afterEach, describe, expect, it } from 'vitest'
import { TcpProxy } from '../../src/testing/tcp-proxy.js'
import {
  createTestStore,
  postgresAddress,
  testRedisUrl,
  type TestStore,
} from '../../src/testing/test-app.js'
import { TestSocket } from '../../src/testing/test-socket.js'
import { startNodeCluster, type NodeCluster } from '../support/node-cluster.js'
import { startRedisServer, type RedisServer } from '../support/redis-server.js'
import { Traffic, register, type Participant } from '../support/traffic.js'

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * Faults survived by three node processes sharing PostgreSQL and Redis, with SDK clients sending
 * all along. Each test ends with `Traffic.finish`: every acknowledged message stored exactly once,
 * and every client shown every message once, in seq order.
 */
describe.runIf(testRedisUrl !== undefined)('three nodes under faults', () => {
  let store: TestStore | undefined
  let cluster: NodeCluster | undefined
  let traffic: Traffic | undefined
  let redis: RedisServer | undefined
  let proxy: TcpProxy | undefined
  afterEach(async () => {
    traffic?.close()
    await cluster?.close()
    await redis?.stop()
    await proxy?.close()
    await store?.drop()
    ;[traffic, cluster, redis, proxy, store] = [
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
    ]
  })

  async function session(baseUrl: string): Promise<{ users: Participant[]; sessionId: string }> {
    const users = await Promise.all(['ana', 'ben', 'cy'].map((name) => register(baseUrl, name)))
    const created = await users[0]!.rest.createSession({
      title: 'Faults',
      participant_ids: users.slice(1).map((user) => user.id),
    })
    return { users, sessionId: created.id }
  }

  /** Three nodes behind nginx, and three clients through it on both socket forms. */
  async function clientsBehindNginx(): Promise<{ cluster: NodeCluster; traffic: Traffic }> {
    store = await createTestStore()
    const nodes = await startNodeCluster({
      count: 3,
      databaseEnv: store.databaseEnv,
      redisUrl: testRedisUrl!,
    })
    const { users, sessionId } = await session(nodes.baseUrl)
    const clients = new Traffic(sessionId, users[0]!.rest)
    await clients.join([
      { who: users[0]!, baseUrl: nodes.baseUrl, form: 'per-session' },
      { who: users[1]!, baseUrl: nodes.baseUrl, form: 'multiplexed' },
      { who: users[2]!, baseUrl: nodes.baseUrl, form: 'per-session' },
    ])
    return { cluster: nodes, traffic: clients }
  }

  it('survives a node killed with SIGKILL: its clients resume on another node', async () => {
    ;({ cluster, traffic } = await clientsBehindNginx())

    traffic.start()
    await traffic.moreAcknowledged(100)
    const victim = await cluster.busiest()
    expect(await cluster.stop(victim, 'SIGKILL')).toBeNull()
    await traffic.moreAcknowledged(150)

    expect((await traffic.finish()).length).toBeGreaterThan(250)
  }, 60_000)

  it('survives Redis stopped for 10 s: nodes serve their own sockets, then catch up from the store', async () => {
    store = await createTestStore()
    redis = await startRedisServer()
    cluster = await startNodeCluster({
      count: 3,
      databaseEnv: store.databaseEnv,
      redisUrl: redis.url,
    })
    const { users, sessionId } = await session(cluster.baseUrl)
    const node = (i: number) => `http://127.0.0.1:${cluster!.ports[i]}`
    traffic = new Traffic(sessionId, users[0]!.rest)
    // One client per node, so everything between them crosses Redis.
    await traffic.join(
      users.map((who, i) => ({ who, baseUrl: node(i), form: 'per-session' as const })),
    )

    traffic.start(50)
    await traffic.moreAcknowledged(30)
    await redis.stop()
    await sleep(500)
    const ownBefore = traffic.received.map((inbox) => inbox.length)
    const ready = await fetch(`${node(0)}/readyz`)
    await traffic.moreAcknowledged(60)
    await sleep(10_000 - 500)
    const ownDuring = traffic.received.map((inbox, i) => inbox.length - ownBefore[i]!)
    await redis.start()
    await traffic.moreAcknowledged(60)

    expect(ready.status).toBe(200)
    expect(await ready.json()).toMatchObject({ status: 'degraded', bus: 'down', database: 'up' })
    // While Redis was away, each client still heard its own node, its own sends included.
    expect(ownDuring.every((count) => count > 0)).toBe(true)
    await traffic.finish(30_000)
  }, 60_000)

  it('survives PostgreSQL unreachable: clear errors, nothing unstored broadcast, back by itself', async () => {
    proxy = new TcpProxy(postgresAddress())
    await proxy.open()
    store = await createTestStore({ via: proxy })
    cluster = await startNodeCluster({
      count: 3,
      databaseEnv: store.databaseEnv,
      redisUrl: testRedisUrl!,
    })
    const { users, sessionId } = await session(cluster.baseUrl)
    traffic = new Traffic(sessionId, users[0]!.rest)
    await traffic.join(
      users.map((who) => ({ who, baseUrl: cluster!.baseUrl, form: 'per-session' as const })),
    )
    const raw = new TestSocket(
      `ws://${cluster.baseUrl.slice('http://'.length)}/api/v1/chat/ws/${sessionId}?token=${users[1]!.rest.token}`,
    )
    await raw.opened
    raw.send({ message_type: 'ping' })
    await raw.next('pong')

    traffic.start(50)
    await traffic.moreAcknowledged(30)
    await proxy.cut()
    await sleep(300)
    const rest = await fetch(`${cluster.baseUrl}/api/v1/chat/sessions/${sessionId}/messages`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${users[0]!.rest.token}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify({ content: 'during the outage' }),
    })
    raw.send({ message_type: 'text', content: 'during the outage', client_message_id: 'raw-1' })
    const socketError = await raw.next('error', 0, 10_000)
    const ready = await fetch(`http://127.0.0.1:${cluster.ports[0]}/readyz`)
    await sleep(2_000)
    await proxy.open()
    await traffic.moreAcknowledged(60, 30_000)
    const history = await traffic.finish(30_000)

    expect(rest.status).toBe(503)
    expect(await rest.json()).toMatchObject({ code: 'unavailable' })
    expect(socketError.metadata).toMatchObject({ code: 'unavailable', client_message_id: 'raw-1' })
    expect(ready.status).toBe(503)
    // What the raw socket was shown is exactly the stored history, in order: nothing went out
    // that was not committed, and the attempts refused during the outage are nowhere.
    await raw.until(
      (frames) => frames.filter((f) => f.message_type === 'message').length >= history.length,
    )
    expect(raw.of('message').map((m) => m.metadata.message_id)).toEqual(history.map((m) => m.id))
    expect(history.some((m) => m.content === 'during the outage')).toBe(false)
    await raw.close()
  }, 90_000)

  it('survives a rolling restart, one node at a time, with SIGTERM', async () => {
    ;({ cluster, traffic } = await clientsBehindNginx())

    traffic.start()
    await traffic.moreAcknowledged(50)
    for (let i = 0; i < 3; i++) {
      const started = Date.now()
      expect(await cluster.stop(i, 'SIGTERM')).toBe(0)
      expect(Date.now() - started).toBeLessThan(10_000)
      await cluster.start(i)
      await traffic.moreAcknowledged(50)
    }

    expect((await traffic.finish()).length).toBeGreaterThan(200)
  }, 90_000)
})
