import { randomBytes } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import type { ChatEvent } from '../chat/chat-events.js'
import { buildSocketTestApp, type SocketTestApp } from '../testing/socket-app.js'
import { TcpProxy } from '../testing/tcp-proxy.js'
import { createTestStore, redisAddress, testRedisUrl, type TestStore } from '../testing/test-app.js'
import type { TestSocket } from '../testing/test-socket.js'
import type { TestClient } from '../testing/test-app.js'
import type { Bus } from './bus.js'
import { MemoryBus } from './bus-memory.js'
import { MemoryPresence } from './presence-memory.js'

type Transport = 'memory' | 'redis'
const transports: Transport[] = [
  'memory',
  ...(testRedisUrl !== undefined ? (['redis'] as const) : []),
]

const seqs = (socket: TestSocket) => socket.of('message').map((m) => m.metadata.seq)
const countOf = (socket: TestSocket, type: string) =>
  socket.frames.filter((f) => f.message_type === type).length

/** Opens a socket and waits until the server has joined it to the session. */
async function joined(
  node: SocketTestApp,
  client: TestClient,
  sessionId: string,
): Promise<TestSocket> {
  const socket = await node.connect(client, sessionId)
  await socket.roundTrip()
  return socket
}

/** A customer, her assigned agent and a second agent, in one session made through `node`. */
async function supportSession(node: SocketTestApp) {
  const ana = await node.signUp('ana')
  const sam = await node.signUp('sam', 'agent')
  const kim = await node.signUp('kim', 'agent')
  const session = await ana.createSession({
    title: 'Wallet',
    assigned_agent_id: sam.id,
    participant_ids: [kim.id],
  })
  return { ana, sam, kim, session }
}

/** Three nodes on one database, joined by the given transport (or by `bus`, for chaos tests). */
async function startCluster(
  transport: Transport,
  options: { bus?: Bus; env?: Record<string, string> } = {},
) {
  const store = await createTestStore()
  const prefix = `test-${randomBytes(4).toString('hex')}:`
  const shared =
    transport === 'memory'
      ? { bus: options.bus ?? new MemoryBus(), presence: new MemoryPresence() }
      : {}
  const nodes: SocketTestApp[] = []
  for (const name of ['a', 'b', 'c']) {
    nodes.push(
      await buildSocketTestApp({
        store,
        nodeId: `node-${name}`,
        env: { MESSAGE_RATE_BURST: '1000', ...options.env },
        ...(transport === 'redis' ? { redisPrefix: prefix } : shared),
      }),
    )
  }
  return { nodes: nodes as [SocketTestApp, SocketTestApp, SocketTestApp], store }
}

type Cluster = Awaited<ReturnType<typeof startCluster>>

describe.each(transports)('three nodes over the %s bus', (transport) => {
  let cluster: Cluster | undefined
  afterEach(async () => {
    for (const node of cluster?.nodes ?? []) await node.close()
    await cluster?.store.drop()
    cluster = undefined
  })

  async function setUp(env?: Record<string, string>) {
    cluster = await startCluster(transport, { env })
    const [a, b, c] = cluster.nodes
    return { a, b, c, ...(await supportSession(a)) }
  }

  it('delivers messages sent on any node to sockets on every node, in seq order', async () => {
    const { a, b, c, ana, sam, kim, session } = await setUp()
    const onA = await joined(a, ana, session.id)
    const onB = await joined(b, sam, session.id)
    const onC = await joined(c, kim, session.id)
    await onA.until((frames) => frames.filter((f) => f.message_type === 'user_joined').length === 3)

    for (let i = 0; i < 30; i++) {
      onA.send({ message_type: 'text', content: `a${i}` })
      onB.send({ message_type: 'text', content: `b${i}` })
      onC.send({ message_type: 'text', content: `c${i}` })
    }
    const all = [onA, onB, onC]
    await Promise.all(
      all.map((s) =>
        s.until(
          (frames) => frames.filter((f) => f.message_type === 'message').length >= 90,
          15_000,
        ),
      ),
    )

    const expected = Array.from({ length: 90 }, (_, i) => i + 1)
    for (const socket of all) expect(seqs(socket)).toEqual(expected)
  })

  it('counts presence, typing and connections over every node', async () => {
    const { a, b, c, ana, sam, kim, session } = await setUp()
    const onA = await joined(a, ana, session.id)
    await onA.next('user_joined')
    await joined(b, sam, session.id)
    await onA.next('user_joined', 1)
    const onC = await joined(c, kim, session.id)
    const third = await onA.next('user_joined', 2)
    await joined(c, kim, session.id)

    onC.send({ message_type: 'typing', content: 'true' })
    const typing = await onA.next('typing_indicator')
    const stats = (await sam.get('/api/v1/chat/ws-stats')).json()
    const participants = (await ana.get(`/api/v1/chat/sessions/${session.id}/participants`)).json<
      Array<{ user_id: string; is_online: boolean }>
    >()

    expect(third.metadata.total_users).toBe(3)
    expect(typing).toMatchObject({ user_id: kim.id, metadata: { is_typing: true } })
    expect(stats).toMatchObject({
      total_sessions: 1,
      total_connections: 4,
      average_users_per_session: 3,
      sessions: { [session.id]: { user_count: 3, typing_count: 1 } },
      nodes: 3,
    })
    expect(participants.every((p) => p.is_online)).toBe(true)
  })

  it('announces a user’s departure only when their last socket anywhere closes', async () => {
    const { a, b, c, ana, sam, session } = await setUp()
    const watcher = await joined(a, ana, session.id)
    await watcher.next('user_joined')
    const samOnB = await joined(b, sam, session.id)
    const samOnC = await joined(c, sam, session.id)
    await watcher.next('user_joined', 1)

    await samOnB.close()
    await new Promise((resolve) => setTimeout(resolve, 200))
    const afterFirst = countOf(watcher, 'user_left')
    await samOnC.close()
    const left = await watcher.next('user_left')

    expect(afterFirst).toBe(0)
    expect(left).toMatchObject({ user_id: sam.id, metadata: { total_users: 1 } })
    expect(countOf(watcher, 'user_joined')).toBe(2)
  })

  it('carries read receipts, session_closed and blocks across nodes', async () => {
    const { a, b, c, ana, sam, kim, session } = await setUp()
    const onA = await joined(a, ana, session.id)
    const onB = await joined(b, sam, session.id)
    await onA.until((frames) => frames.filter((f) => f.message_type === 'user_joined').length === 2)

    await c.app.inject({
      method: 'POST',
      url: '/api/v1/chat/block',
      headers: { authorization: `Bearer ${ana.token}` },
      payload: { user_id: kim.id },
    })
    await new Promise((resolve) => setTimeout(resolve, 100))
    await kim.send(session.id, 'from kim')
    onB.send({ message_type: 'text', content: 'from sam' })
    const samsMessage = await onA.next('message')
    onA.send({ message_type: 'read', up_to_message_id: samsMessage.metadata.message_id })
    const receipt = await onB.next('read_receipt')
    await c.app.inject({
      method: 'POST',
      url: `/api/v1/chat/sessions/${session.id}/close`,
      headers: { authorization: `Bearer ${sam.token}` },
    })

    expect(samsMessage.content).toBe('from sam')
    expect(receipt).toMatchObject({
      user_id: ana.id,
      metadata: { up_to_message_id: samsMessage.metadata.message_id, seq: 2 },
    })
    expect((await onA.closed).code).toBe(1000)
    expect((await onB.closed).code).toBe(1000)
    expect(onA.of('message').map((m) => m.content)).toEqual(['from sam'])
    expect(onA.of('session_closed')).toHaveLength(1)
  })
})

/** Hands message events over late, out of order, or not at all, as a troubled network might. */
class ChaosBus extends MemoryBus {
  #held: Array<[string, ChatEvent]> = []
  #count = 0

  override publish(channel: string, event: ChatEvent): Promise<void> {
    if (event.type !== 'message.created') return super.publish(channel, event)
    this.#count += 1
    if (this.#count % 7 === 0) return Promise.resolve() // lost
    if (this.#count % 3 === 0) {
      this.#held.push([channel, event]) // late: released after the next one
      return Promise.resolve()
    }
    const result = super.publish(channel, event)
    for (const [heldChannel, heldEvent] of this.#held.splice(0))
      void super.publish(heldChannel, heldEvent)
    return result
  }
}

/** A node's unlabelled `/metrics` samples, by name (0 when absent). */
async function metricsOf(node: SocketTestApp): Promise<(name: string) => number> {
  const text = (await node.app.inject({ method: 'GET', url: '/metrics' })).body
  return (name) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? 0)
}

describe('a node whose bus loses and reorders events', () => {
  let cluster: Cluster | undefined
  afterEach(async () => {
    for (const node of cluster?.nodes ?? []) await node.close()
    await cluster?.store.drop()
  })

  it('still delivers every message once, in seq order, reading the gaps from the store', async () => {
    cluster = await startCluster('memory', { bus: new ChaosBus() })
    const [a, b] = cluster.nodes
    const ana = await a.signUp('ana')
    const sam = await a.signUp('sam', 'agent')
    const session = await ana.createSession({ title: 'x', assigned_agent_id: sam.id })
    const onA = await joined(a, ana, session.id)
    const onB = await joined(b, sam, session.id)
    await onA.until((frames) => frames.filter((f) => f.message_type === 'user_joined').length === 2)

    for (let i = 0; i < 40; i++)
      (i % 2 ? onA : onB).send({ message_type: 'text', content: `m${i}` })
    await Promise.all(
      [onA, onB].map((s) =>
        s.until(
          (frames) => frames.filter((f) => f.message_type === 'message').length >= 40,
          10_000,
        ),
      ),
    )
    await new Promise((resolve) => setTimeout(resolve, 300))

    const expected = Array.from({ length: 40 }, (_, i) => i + 1)
    expect(seqs(onA)).toEqual(expected)
    expect(seqs(onB)).toEqual(expected)
    // Each node counts what it waited for and what it read back, for /metrics.
    const counted = await Promise.all([a, b].map((node) => metricsOf(node)))
    const total = (name: string) => counted.reduce((sum, metrics) => sum + metrics(name), 0)
    expect(total('chat_messages_out_of_order_total')).toBeGreaterThan(0)
    expect(total('chat_gap_reads_total')).toBeGreaterThan(0)
    expect(total('chat_gap_messages_total')).toBeGreaterThan(0)
  })
})

describe.runIf(testRedisUrl !== undefined)('a node that dies without a goodbye', () => {
  let cluster: Cluster | undefined
  afterEach(async () => {
    for (const node of cluster?.nodes ?? []) await node.close().catch(() => undefined)
    await cluster?.store.drop()
  })

  it('drops out of every count, and its users’ user_left go out', async () => {
    cluster = await startCluster('redis', { env: { NODE_TIMEOUT_MS: '1500' } })
    const [a, b] = cluster.nodes
    const ana = await a.signUp('ana')
    const sam = await a.signUp('sam', 'agent')
    const session = await ana.createSession({ title: 'x', assigned_agent_id: sam.id })
    const watcher = await joined(a, ana, session.id)
    await joined(b, sam, session.id)
    await watcher.next('user_joined', 1)

    // Node b stops beating and never says goodbye: its presence goes silent, its sockets vanish.
    await b.presence.close()
    b.app.server.closeAllConnections()
    const left = await watcher.next('user_left', 0, 10_000)
    const stats = (await sam.get('/api/v1/chat/ws-stats')).json<{
      nodes: number
      sessions: Record<string, { user_count: number }>
    }>()

    expect(left).toMatchObject({ user_id: sam.id, metadata: { total_users: 1 } })
    expect(stats.sessions[session.id]?.user_count).toBe(1)
  }, 20_000)
})

describe.runIf(testRedisUrl !== undefined)('nodes while Redis is unreachable', () => {
  let nodes: SocketTestApp[] = []
  let store: TestStore | undefined
  let proxy: TcpProxy | undefined
  afterEach(async () => {
    for (const node of nodes) await node.close()
    nodes = []
    await store?.drop()
    await proxy?.close()
  })

  it('keep serving their own sockets and answer presence from what they know', async () => {
    proxy = new TcpProxy(redisAddress())
    await proxy.open()
    store = await createTestStore()
    const prefix = `test-${randomBytes(4).toString('hex')}:`
    const redisUrl = `redis://127.0.0.1:${proxy.port}`
    for (const name of ['a', 'b']) {
      nodes.push(
        await buildSocketTestApp({ store, nodeId: `node-${name}`, redisPrefix: prefix, redisUrl }),
      )
    }
    const [a, b] = nodes as [SocketTestApp, SocketTestApp]
    const { ana, sam, kim, session } = await supportSession(a)
    const anaOnA = await joined(a, ana, session.id)
    const samOnA = await joined(a, sam, session.id)
    const kimOnB = await joined(b, kim, session.id)

    await proxy.cut()
    anaOnA.send({ message_type: 'text', content: 'same node' })
    await samOnA.next('message')
    // A session that no node had open before the outage: its subscription is made while Redis is away.
    const later = await ana.createSession({ title: 'during', participant_ids: [kim.id] })
    const anaLater = await joined(a, ana, later.id)
    const kimLater = await joined(b, kim, later.id)
    const participants = await a.app.inject({
      url: `/api/v1/chat/sessions/${session.id}/participants`,
      headers: { authorization: `Bearer ${ana.token}` },
    })
    const stats = await a.app.inject({
      url: '/api/v1/chat/ws-stats',
      headers: { authorization: `Bearer ${sam.token}` },
    })
    await proxy.open()
    // Back together: node b catches up from the store what it missed, and hears the new session live.
    const missed = await kimOnB.next('message', 0, 10_000)
    await new Promise((resolve) => setTimeout(resolve, 500))
    anaLater.send({ message_type: 'text', content: 'after the outage' })
    const live = await kimLater.next('message', 0, 5_000)

    expect(participants.statusCode).toBe(200)
    const online = participants.json<Array<{ user_id: string; is_online: boolean }>>()
    expect(
      online
        .filter((p) => p.is_online)
        .map((p) => p.user_id)
        .sort(),
    ).toEqual([ana.id, sam.id].sort())
    expect(stats.statusCode).toBe(503)
    expect(stats.json()).toMatchObject({ code: 'unavailable' })
    expect(missed).toMatchObject({ content: 'same node', metadata: { seq: 1 } })
    expect(live).toMatchObject({ content: 'after the outage', metadata: { seq: 1 } })
  }, 20_000)
})
