import { SignJWT } from 'jose'
import { afterEach, describe, expect, it } from 'vitest'
import { capturedLogs } from '../testing/captured-logs.js'
import { buildSocketTestApp, type SocketTestApp } from '../testing/socket-app.js'
import { TEST_JWT_SECRET, type TestClient } from '../testing/test-app.js'
import type { TestSocket } from '../testing/test-socket.js'
import type { MessageFrame } from './protocol.js'

const SESSIONS = '/api/v1/chat/sessions'
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/

let t: SocketTestApp
afterEach(() => t?.close())

async function setUp(env: Record<string, string> = {}) {
  t = await buildSocketTestApp({ env })
  const ana = await t.signUp('ana')
  const sam = await t.signUp('sam', 'agent')
  const session = await ana.createSession({ title: 'Wallet', assigned_agent_id: sam.id })
  return { ana, sam, session }
}

/** Both participants connected, each having seen both arrive. */
async function connectPair(ana: TestClient, sam: TestClient, sessionId: string) {
  const a = await t.connect(ana, sessionId)
  await a.next('user_joined')
  const s = await t.connect(sam, sessionId)
  await a.next('user_joined', 1)
  await s.next('user_joined')
  return { a, s }
}

const seqs = (socket: TestSocket) => socket.of('message').map((m) => m.metadata.seq)

describe('the per-session socket', () => {
  it('broadcasts a text message to every socket, the sender’s included, with the guide’s fields', async () => {
    const { ana, sam, session } = await setUp()
    const { a, s } = await connectPair(ana, sam, session.id)

    a.send({
      message_type: 'text',
      content: 'Hello, how can I help you?',
      reply_to_id: null,
      mentions: ['user-id-1', 'user-id-2'],
    })
    const received = await s.next('message')
    const echoed = await a.next('message')

    expect(received).toEqual(echoed)
    expect(received).toEqual({
      message_type: 'message',
      chat_session_id: session.id,
      user_id: ana.id,
      content: 'Hello, how can I help you?',
      timestamp: expect.stringMatching(ISO),
      metadata: {
        message_id: expect.any(String),
        seq: 1,
        reply_to_id: null,
        mentions: ['user-id-1', 'user-id-2'],
        client_message_id: null,
      },
    })
    const stored = (await sam.get(`${SESSIONS}/${session.id}/messages`)).json<
      Array<{ id: string }>
    >()
    expect(stored[0]?.id).toBe(received.metadata.message_id)
  })

  it('broadcasts a file message with its file fields and the name as content', async () => {
    const { ana, sam, session } = await setUp()
    const { a, s } = await connectPair(ana, sam, session.id)

    a.send({
      message_type: 'file',
      content: 'Receipt.pdf',
      file_url: 'https://bucket.s3.amazonaws.com/files/receipt.pdf',
      file_name: 'Receipt.pdf',
      file_size: 245000,
      file_type: 'application/pdf',
    })
    const frame = await s.next('message')

    expect(frame.content).toBe('Receipt.pdf')
    expect(frame.metadata).toMatchObject({
      kind: 'file',
      file_url: 'https://bucket.s3.amazonaws.com/files/receipt.pdf',
      file_name: 'Receipt.pdf',
      file_size: 245000,
      file_type: 'application/pdf',
      seq: 1,
    })
  })

  it('announces arrivals and departures with distinct-user totals', async () => {
    const { ana, sam, session } = await setUp()
    const a = await t.connect(ana, session.id)
    const first = await a.next('user_joined')
    const a2 = await t.connect(ana, session.id)
    const s = await t.connect(sam, session.id)
    const second = await a.next('user_joined', 1)

    await a2.close()
    await s.close()
    const left = await a.next('user_left')

    expect(first).toEqual({
      message_type: 'user_joined',
      chat_session_id: session.id,
      user_id: ana.id,
      timestamp: expect.stringMatching(ISO),
      metadata: { total_users: 1 },
    })
    expect(second).toMatchObject({ user_id: sam.id, metadata: { total_users: 2 } })
    expect(left).toMatchObject({
      message_type: 'user_left',
      user_id: sam.id,
      metadata: { total_users: 1 },
    })
    expect(a.of('user_joined')).toHaveLength(2)
    expect(a.of('user_left')).toHaveLength(1)
  })

  it('shows sockets in ws-stats and participants’ is_online', async () => {
    const { ana, sam, session } = await setUp()
    await connectPair(ana, sam, session.id)
    await (await t.connect(ana, session.id)).roundTrip()

    const stats = (await sam.get('/api/v1/chat/ws-stats')).json()
    const participants = (await ana.get(`${SESSIONS}/${session.id}/participants`)).json<
      Array<{ is_online: boolean }>
    >()

    expect(stats).toEqual({
      total_sessions: 1,
      total_connections: 3,
      average_users_per_session: 2,
      sessions: { [session.id]: { user_count: 2, typing_count: 0 } },
      nodes: 1,
    })
    expect(participants.every((p) => p.is_online)).toBe(true)
  })

  it('broadcasts typing changes to the others only, and ends a state that is not refreshed', async () => {
    const { ana, sam, session } = await setUp({ TYPING_TIMEOUT_MS: '300' })
    const { a, s } = await connectPair(ana, sam, session.id)

    for (let i = 0; i < 5; i++) a.send({ message_type: 'typing', content: 'true' })
    const started = await s.next('typing_indicator')
    const stopped = await s.next('typing_indicator', 1, 2_000)
    a.send({ message_type: 'typing', content: 'true' })
    a.send({ message_type: 'typing', content: 'false' })
    await s.next('typing_indicator', 3)

    expect(started).toEqual({
      message_type: 'typing_indicator',
      chat_session_id: session.id,
      user_id: ana.id,
      timestamp: expect.stringMatching(ISO),
      metadata: { is_typing: true },
    })
    expect(stopped.metadata.is_typing).toBe(false)
    expect(s.of('typing_indicator').map((f) => f.metadata.is_typing)).toEqual([
      true,
      false,
      true,
      false,
    ])
    expect(a.of('typing_indicator')).toEqual([])
  })

  it('ends a typing state when its socket closes', async () => {
    const { ana, sam, session } = await setUp()
    const { a, s } = await connectPair(ana, sam, session.id)

    a.send({ message_type: 'typing', content: 'true' })
    await s.next('typing_indicator')
    await a.close()
    const ended = await s.next('typing_indicator', 1)

    expect(ended.metadata.is_typing).toBe(false)
  })

  it('sends read receipts to the others, from the read frame and from REST mark-read', async () => {
    const { ana, sam, session } = await setUp()
    const { a, s } = await connectPair(ana, sam, session.id)
    a.send({ message_type: 'text', content: 'one' })
    const one = await s.next('message')
    a.send({ message_type: 'text', content: 'two' })
    const two = await s.next('message', 1)

    s.send({ message_type: 'read', up_to_message_id: one.metadata.message_id })
    const first = await a.next('read_receipt')
    await sam.post(`${SESSIONS}/${session.id}/mark-read`)
    const second = await a.next('read_receipt', 1)

    expect(first).toEqual({
      message_type: 'read_receipt',
      chat_session_id: session.id,
      user_id: sam.id,
      timestamp: expect.stringMatching(ISO),
      metadata: { up_to_message_id: one.metadata.message_id, seq: 1 },
    })
    expect(second.metadata).toEqual({ up_to_message_id: two.metadata.message_id, seq: 2 })
    expect(s.of('read_receipt')).toEqual([])
  })

  it('delivers messages sent over REST to sockets', async () => {
    const { ana, sam, session } = await setUp()
    const { s } = await connectPair(ana, sam, session.id)

    await ana.send(session.id, 'via REST', { client_message_id: 'r-1' })
    const frame = await s.next('message')

    expect(frame).toMatchObject({
      content: 'via REST',
      user_id: ana.id,
      metadata: { seq: 1, client_message_id: 'r-1' },
    })
  })

  it('marks a message delivered once it reached another participant’s socket', async () => {
    const { ana, sam, session } = await setUp()
    const { a, s } = await connectPair(ana, sam, session.id)

    a.send({ message_type: 'text', content: 'hello' })
    await s.next('message')
    await new Promise((resolve) => setTimeout(resolve, 1_300))
    const [message] = (await ana.get(`${SESSIONS}/${session.id}/messages`)).json<
      Array<{ status: string }>
    >()

    expect(message?.status).toBe('delivered')
  })

  it('sends session_closed to every socket, then closes per-session sockets with 1000', async () => {
    const { ana, sam, session } = await setUp()
    const { a, s } = await connectPair(ana, sam, session.id)

    await sam.post(`${SESSIONS}/${session.id}/close`)
    const frame = await a.next('session_closed')

    expect(frame).toEqual({
      message_type: 'session_closed',
      chat_session_id: session.id,
      user_id: sam.id,
      timestamp: expect.stringMatching(ISO),
      metadata: { closed_at: expect.stringMatching(ISO) },
    })
    expect(await a.closed).toEqual({ code: 1000, reason: 'session closed' })
    expect((await s.closed).code).toBe(1000)
  })

  it('answers ping with pong', async () => {
    const { ana, session } = await setUp()
    const a = await t.connect(ana, session.id)

    a.send({ message_type: 'ping' })
    const pong = await a.next('pong')

    expect(pong).toEqual({ message_type: 'pong', timestamp: expect.stringMatching(ISO) })
  })

  it('takes the token from an Authorization header too', async () => {
    const { ana, session } = await setUp()

    const a = t.socket(`/api/v1/chat/ws/${session.id}`, {
      headers: { authorization: `Bearer ${ana.token}` },
    })
    const joined = await a.next('user_joined')

    expect(joined.user_id).toBe(ana.id)
  })

  it('handles frames sent before the server finished its checks, in order', async () => {
    const { ana, sam, session } = await setUp()
    const s = await t.connect(sam, session.id)
    await s.next('user_joined')

    const a = t.socket(`/api/v1/chat/ws/${session.id}?token=${ana.token}`)
    a.ws.once('open', () => {
      for (let i = 1; i <= 5; i++) a.send({ message_type: 'text', content: `early ${i}` })
    })
    await s.until((frames) => frames.filter((f) => f.message_type === 'message').length === 5)

    expect(s.of('message').map((m) => m.content)).toEqual([
      'early 1',
      'early 2',
      'early 3',
      'early 4',
      'early 5',
    ])
    expect(seqs(s)).toEqual([1, 2, 3, 4, 5])
  })
})

describe('refusals and close codes', () => {
  const refusal = async (socket: TestSocket) => socket.closed

  it('refuses bad tokens, unknown sessions, outsiders and closed sessions with 1008', async () => {
    const { ana, session } = await setUp()
    const eve = await t.signUp('eve')
    const closed = await ana.createSession({ title: 'done' })
    await ana.post(`${SESSIONS}/${closed.id}/close`)

    const cases = {
      noToken: t.socket(`/api/v1/chat/ws/${session.id}`),
      badToken: t.socket(`/api/v1/chat/ws/${session.id}?token=nope`),
      unknown: t.socket(`/api/v1/chat/ws/00000000-0000-4000-8000-000000000000?token=${ana.token}`),
      notUuid: t.socket(`/api/v1/chat/ws/not-a-session?token=${ana.token}`),
      badEscape: t.socket(`/api/v1/chat/ws/%E0%A4%A?token=${ana.token}`),
      outsider: t.socket(`/api/v1/chat/ws/${session.id}?token=${eve.token}`),
      closed: t.socket(`/api/v1/chat/ws/${closed.id}?token=${ana.token}`),
    }

    expect(await refusal(cases.noToken)).toEqual({ code: 1008, reason: 'invalid token' })
    expect(await refusal(cases.badToken)).toEqual({ code: 1008, reason: 'invalid token' })
    expect(await refusal(cases.unknown)).toEqual({ code: 1008, reason: 'session not found' })
    expect(await refusal(cases.notUuid)).toEqual({ code: 1008, reason: 'session not found' })
    expect(await refusal(cases.badEscape)).toEqual({ code: 1008, reason: 'session not found' })
    expect(await refusal(cases.outsider)).toEqual({ code: 1008, reason: 'not a participant' })
    expect(await refusal(cases.closed)).toEqual({ code: 1008, reason: 'session closed' })
  })

  it('refuses an expired token, and closes a socket with 1008 when its token expires', async () => {
    const { ana, session } = await setUp()
    const secret = new TextEncoder().encode(TEST_JWT_SECRET)
    const now = Math.floor(Date.now() / 1000)
    const expired = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(ana.id)
      .setExpirationTime(now - 10)
      .sign(secret)
    const shortLived = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(ana.id)
      .setExpirationTime(now + 2)
      .sign(secret)

    const refused = await t.socket(`/api/v1/chat/ws/${session.id}?token=${expired}`).closed
    const live = t.socket(`/api/v1/chat/ws/${session.id}?token=${shortLived}`)
    await live.next('user_joined')
    const ended = await live.closed

    expect(refused).toEqual({ code: 1008, reason: 'token expired' })
    expect(ended).toEqual({ code: 1008, reason: 'token expired' })
  })

  it('refuses origins outside WS_ALLOWED_ORIGINS, and accepts listed ones and origin-less clients', async () => {
    const { ana, session } = await setUp({ WS_ALLOWED_ORIGINS: 'https://portal.example.com' })
    const path = `/api/v1/chat/ws/${session.id}?token=${ana.token}`

    const evil = await t.socket(path, { origin: 'https://evil.example.com' }).closed
    const portal = t.socket(path, { origin: 'https://portal.example.com' })
    await portal.next('user_joined')
    const native = t.socket(path)
    native.ws.once('open', () => native.send({ message_type: 'ping' }))

    expect(evil).toEqual({ code: 1008, reason: 'origin not allowed' })
    expect((await native.next('pong')).message_type).toBe('pong')
  })

  it('closes with 1009 on a frame over 64 KiB', async () => {
    const { ana, session } = await setUp()
    const a = await t.connect(ana, session.id)

    a.send({ message_type: 'text', content: 'x'.repeat(70 * 1024) })

    expect((await a.closed).code).toBe(1009)
  })

  it('caps sockets per user', async () => {
    const { ana, session } = await setUp({ MAX_SOCKETS_PER_USER: '2' })
    const first = await t.connect(ana, session.id)
    await first.next('user_joined')
    await (await t.connect(ana, session.id)).roundTrip()

    const third = await t.socket(`/api/v1/chat/ws/${session.id}?token=${ana.token}`).closed

    expect(third).toEqual({ code: 1008, reason: 'too many connections' })
  })

  it('closes every socket with 1011 "server restarting" when the node shuts down', async () => {
    const { ana, sam, session } = await setUp()
    const { a } = await connectPair(ana, sam, session.id)
    const many = await t.connectMany(ana)

    const closing = t.app.close()
    const [perSession, multiplexed] = await Promise.all([a.closed, many.closed])
    await closing

    expect(perSession).toEqual({ code: 1011, reason: 'server restarting' })
    expect(multiplexed).toEqual({ code: 1011, reason: 'server restarting' })
  })

  it('closes with 1011 when the server cannot serve the socket (its database is gone)', async () => {
    const { ana, session } = await setUp()
    await t.store.close()

    const closed = await t.socket(`/api/v1/chat/ws/${session.id}?token=${ana.token}`).closed

    expect(closed).toEqual({ code: 1011, reason: 'server error' })
  })

  it('drops a socket that stops answering pings', async () => {
    const { ana, sam, session } = await setUp({ WS_PING_INTERVAL_MS: '100' })
    const { a, s } = await connectPair(ana, sam, session.id)

    // The client stops reading (a dead network): it no longer answers the server's pings.
    ;(s.ws as unknown as { _socket: { pause(): void } })._socket.pause()
    const left = await a.next('user_left', 0, 3_000)

    expect(left.user_id).toBe(sam.id)
  })

  it('answers 426 to a plain HTTP request on the socket paths', async () => {
    await setUp()

    const res = await t.app.inject('/api/v1/chat/ws')

    expect(res.statusCode).toBe(426)
  })
})

describe('bad frames', () => {
  it('answer error frames and never close the socket', async () => {
    const { ana, sam, session } = await setUp()
    const { a, s } = await connectPair(ana, sam, session.id)
    const other = await ana.createSession({ title: 'other' })
    const foreign = await ana.send(other.id, 'elsewhere')

    const bad: unknown[] = [
      'not json',
      '[1,2]',
      { content: 'no type' },
      { message_type: 'shout', content: 'x' },
      { message_type: 'text', client_message_id: 'c-missing' },
      { message_type: 'text', content: '', client_message_id: 'c-empty' },
      { message_type: 'text', content: 'x'.repeat(4001), client_message_id: 'c-long' },
      { message_type: 'text', content: 42 },
      { message_type: 'text', content: 'x', reply_to_id: 'nope' },
      { message_type: 'text', content: 'x', reply_to_id: foreign.id, client_message_id: 'c-reply' },
      {
        message_type: 'file',
        content: 'r.pdf',
        file_url: '/relative.pdf',
        file_name: 'r.pdf',
        file_type: 'application/pdf',
        client_message_id: 'c-url',
      },
      { message_type: 'typing', content: 'maybe' },
      { message_type: 'read', up_to_message_id: '00000000-0000-4000-8000-000000000000' },
      { message_type: 'subscribe', chat_session_id: session.id },
    ]
    for (const frame of bad) a.send(frame)
    await a.until(
      (frames) => frames.filter((f) => f.message_type === 'error').length === bad.length,
    )
    a.send({ message_type: 'text', content: 'still here' })
    await s.next('message')

    const errors = a.of('error')
    expect(errors.map((e) => e.metadata.code)).toEqual([
      'bad_request',
      'bad_request',
      'bad_request',
      'bad_request',
      'bad_request',
      'bad_request',
      'bad_request',
      'bad_request',
      'bad_request',
      'bad_request',
      'invalid_file_url',
      'bad_request',
      'not_found',
      'bad_request',
    ])
    expect(errors.map((e) => e.metadata.client_message_id)).toEqual([
      null,
      null,
      null,
      null,
      'c-missing',
      'c-empty',
      'c-long',
      null,
      null,
      'c-reply',
      'c-url',
      null,
      null,
      null,
    ])
    expect(errors[6]?.metadata.detail).toContain('4,000')
    expect(errors[0]).toEqual({
      message_type: 'error',
      chat_session_id: null,
      user_id: ana.id,
      timestamp: expect.stringMatching(ISO),
      metadata: { code: 'bad_request', detail: expect.any(String), client_message_id: null },
    })
    expect(seqs(s)).toEqual([1])
    expect(a.ws.readyState).toBe(a.ws.OPEN)
  })

  it('answer a send into a closed session with an error on the multiplexed socket', async () => {
    const { ana, session } = await setUp()
    const many = await t.connectMany(ana)
    many.send({ message_type: 'subscribe', chat_session_id: session.id })
    await many.next('subscribed')

    await ana.post(`${SESSIONS}/${session.id}/close`)
    await many.next('session_closed')
    many.send({ message_type: 'text', chat_session_id: session.id, content: 'too late' })
    const error = await many.next('error')

    expect(error.metadata.code).toBe('bad_request')
    expect(many.ws.readyState).toBe(many.ws.OPEN)
  })

  it('limit sends per user across socket and REST, and close a socket that keeps flooding', async () => {
    const { ana, sam, session } = await setUp({
      MESSAGE_RATE_BURST: '5',
      MESSAGE_RATE_PER_SECOND: '0.5',
      MESSAGE_FLOOD_CLOSE_AFTER: '10',
    })
    const { a, s } = await connectPair(ana, sam, session.id)

    for (let i = 0; i < 3; i++) await ana.send(session.id, `rest ${i}`)
    for (let i = 0; i < 4; i++)
      a.send({ message_type: 'text', content: `socket ${i}`, client_message_id: `c${i}` })
    for (let i = 0; i < 50; i++)
      a.send({ message_type: 'typing', content: i % 2 ? 'false' : 'true' })
    const limited = await a.next('error', 1)
    for (let i = 0; i < 20; i++) a.send({ message_type: 'text', content: `flood ${i}` })
    const closed = await a.closed

    expect(limited.metadata).toMatchObject({ code: 'rate_limited', client_message_id: 'c3' })
    expect(closed).toEqual({ code: 1008, reason: 'flooding' })
    expect(seqs(s)).toEqual([1, 2, 3, 4, 5])
  })
})

describe('ordering and exactly-once delivery', () => {
  it('shows every receiver 20 senders × 50 messages in seq order with no gap', async () => {
    t = await buildSocketTestApp({ env: { MESSAGE_RATE_BURST: '1000' } })
    const senders = await Promise.all(Array.from({ length: 20 }, (_, i) => t.signUp(`sender${i}`)))
    const host = await t.signUp('host', 'agent')
    const session = await host.createSession({
      title: 'crowd',
      participant_ids: senders.map((c) => c.id),
    })
    const sockets = await Promise.all(senders.map((c) => t.connect(c, session.id)))
    const watcher = await t.connect(host, session.id)
    await Promise.all([...sockets, watcher].map((socket) => socket.roundTrip()))

    for (let round = 0; round < 50; round++) {
      sockets.forEach((socket, i) =>
        socket.send({ message_type: 'text', content: `${i}:${round}` }),
      )
    }
    const all = [...sockets, watcher]
    await Promise.all(
      all.map((socket) =>
        socket.until(
          (frames) => frames.filter((f) => f.message_type === 'message').length >= 1000,
          30_000,
        ),
      ),
    )

    const expected = Array.from({ length: 1000 }, (_, i) => i + 1)
    for (const socket of all) expect(seqs(socket)).toEqual(expected)
    // Each sender's own messages keep the order they were sent in.
    const bySender = (socket: TestSocket, i: number) =>
      socket
        .of('message')
        .filter((m) => m.content.startsWith(`${i}:`))
        .map((m) => Number(m.content.split(':')[1]))
    expect(bySender(watcher, 7)).toEqual(Array.from({ length: 50 }, (_, i) => i))
  }, 60_000)

  it('answers a repeated client_message_id with the stored message, to the sender only', async () => {
    const { ana, sam, session } = await setUp()
    const { a, s } = await connectPair(ana, sam, session.id)

    a.send({ message_type: 'text', content: 'once', client_message_id: 'c-1' })
    const first = await a.next('message')
    a.send({ message_type: 'text', content: 'once', client_message_id: 'c-1' })
    const again = await a.next('message', 1)
    a.send({ message_type: 'text', content: 'next', client_message_id: 'c-2' })
    await s.next('message', 1)

    expect(again).toEqual({ ...first, metadata: { ...first.metadata, duplicate: true } })
    expect(s.of('message').map((m) => m.content)).toEqual(['once', 'next'])
    expect(
      (await ana.get(`${SESSIONS}/${session.id}`)).json<{ total_messages: number }>()
        .total_messages,
    ).toBe(2)
  })

  it('answers a resend on a resumed socket in order, once', async () => {
    const { ana, sam, session } = await setUp()
    await ana.send(session.id, 'x', { client_message_id: 'X' })
    await ana.send(session.id, 'y', { client_message_id: 'Y' })

    const resumed = await t.connect(ana, session.id, { last_seq: '0' })
    resumed.send({ message_type: 'text', content: 'x', client_message_id: 'X' })
    resumed.send({ message_type: 'ping' })
    await resumed.next('pong')
    const later = await t.connect(ana, session.id, { last_seq: '2' })
    later.send({ message_type: 'text', content: 'x', client_message_id: 'X' })
    later.send({ message_type: 'ping' })
    await later.next('pong')
    const watcher = await t.connect(sam, session.id, { last_seq: '0' })
    watcher.send({ message_type: 'ping' })
    await watcher.next('pong')

    expect(resumed.of('message').map((m) => [m.metadata.seq, m.metadata.duplicate])).toEqual([
      [1, undefined],
      [2, undefined],
      [1, true],
    ])
    expect(later.of('message').map((m) => [m.metadata.seq, m.metadata.duplicate])).toEqual([
      [1, true],
    ])
    expect(watcher.of('message').map((m) => m.metadata.seq)).toEqual([1, 2])
  })

  it('replays everything after last_seq before live messages, with none lost or doubled', async () => {
    const { ana, sam, session } = await setUp({ MESSAGE_RATE_BURST: '2000' })
    for (let i = 1; i <= 1200; i++) await ana.send(session.id, `m${i}`)

    // More messages arrive while the replay runs.
    const live = (async () => {
      for (let i = 1201; i <= 1300; i++) await ana.send(session.id, `m${i}`)
    })()
    const s = await t.connect(sam, session.id, { last_seq: '150' })
    await live
    await s.until(
      (frames) => frames.filter((f) => f.message_type === 'message').length >= 1150,
      20_000,
    )
    await new Promise((resolve) => setTimeout(resolve, 200))

    expect(seqs(s)).toEqual(Array.from({ length: 1150 }, (_, i) => i + 151))
    const contents = s.of('message').map((m: MessageFrame) => m.content)
    expect(contents[0]).toBe('m151')
    expect(contents.at(-1)).toBe('m1300')
  }, 60_000)

  it('resumes a multiplexed subscription with last_seq and confirms it with subscribed', async () => {
    const { ana, sam, session } = await setUp()
    for (let i = 1; i <= 5; i++) await ana.send(session.id, `m${i}`)
    const many = await t.connectMany(sam)

    many.send({ message_type: 'subscribe', chat_session_id: session.id, last_seq: 2 })
    const subscribed = await many.next('subscribed')
    await ana.send(session.id, 'm6')
    await many.next('message', 3)

    expect(subscribed).toEqual({
      message_type: 'subscribed',
      chat_session_id: session.id,
      user_id: sam.id,
      timestamp: expect.stringMatching(ISO),
      metadata: { last_seq: 5 },
    })
    expect(seqs(many)).toEqual([3, 4, 5, 6])
    expect(many.frames.slice(0, 4).map((f) => f.message_type)).toEqual([
      'message',
      'message',
      'message',
      'subscribed',
    ])
  })
})

describe('the multiplexed socket', () => {
  it('serves several sessions at once, naming each in every frame', async () => {
    const { ana, sam, session } = await setUp()
    const second = await ana.createSession({ title: 'second', assigned_agent_id: sam.id })
    const many = await t.connectMany(sam)

    many.send({ message_type: 'subscribe', chat_session_id: session.id })
    many.send({ message_type: 'subscribe', chat_session_id: second.id })
    await many.next('subscribed', 1)
    await ana.send(session.id, 'in first')
    await ana.send(second.id, 'in second')
    many.send({ message_type: 'text', chat_session_id: second.id, content: 'agent reply' })
    many.send({ message_type: 'typing', chat_session_id: session.id, content: 'true' })
    await many.next('message', 2)
    const stats = (await sam.get('/api/v1/chat/ws-stats')).json<{
      total_sessions: number
      total_connections: number
    }>()

    const messages = many.of('message').map((m) => [m.chat_session_id, m.content])
    expect(messages).toEqual([
      [session.id, 'in first'],
      [second.id, 'in second'],
      [second.id, 'agent reply'],
    ])
    expect(stats).toMatchObject({ total_sessions: 2, total_connections: 1 })
  })

  it('refuses subscriptions it may not have with an error frame, and stops delivery after unsubscribe', async () => {
    const { ana, sam, session } = await setUp()
    const eve = await t.signUp('eve')
    const many = await t.connectMany(eve)
    const mine = await t.connectMany(sam)

    many.send({ message_type: 'subscribe', chat_session_id: session.id })
    many.send({
      message_type: 'subscribe',
      chat_session_id: '00000000-0000-4000-8000-000000000000',
    })
    many.send({ message_type: 'text', content: 'where?' })
    await many.next('error', 2)
    mine.send({ message_type: 'subscribe', chat_session_id: session.id })
    await mine.next('subscribed')
    mine.send({ message_type: 'unsubscribe', chat_session_id: session.id })
    await mine.next('unsubscribed')
    await ana.send(session.id, 'unheard')
    mine.send({ message_type: 'ping' })
    await mine.next('pong')

    expect(many.of('error').map((e) => e.metadata.code)).toEqual([
      'forbidden',
      'not_found',
      'bad_request',
    ])
    expect(many.ws.readyState).toBe(many.ws.OPEN)
    expect(mine.of('message')).toEqual([])
  })

  it('stays open when a session closes, unsubscribed from it', async () => {
    const { ana, sam, session } = await setUp()
    const many = await t.connectMany(sam)
    many.send({ message_type: 'subscribe', chat_session_id: session.id })
    await many.next('subscribed')

    await ana.post(`${SESSIONS}/${session.id}/close`)
    await many.next('session_closed')
    many.send({ message_type: 'ping' })
    await many.next('pong')
    const stats = (await sam.get('/api/v1/chat/ws-stats')).json<{ total_sessions: number }>()

    expect(many.ws.readyState).toBe(many.ws.OPEN)
    expect(stats.total_sessions).toBe(0)
  })
})

describe('blocking, live', () => {
  it('keeps a blocked user’s messages and typing from the blocker’s sockets, from the moment of blocking', async () => {
    const { ana, sam, session } = await setUp()
    const { a, s } = await connectPair(ana, sam, session.id)
    s.send({ message_type: 'text', content: 'before' })
    await a.next('message')

    await ana.post('/api/v1/chat/block', { user_id: sam.id })
    s.send({ message_type: 'typing', content: 'true' })
    s.send({ message_type: 'text', content: 'after' })
    await s.next('message', 1)
    a.send({ message_type: 'text', content: 'from ana' })
    await s.next('message', 2)
    await a.next('message', 1)

    expect(a.of('message').map((m) => m.content)).toEqual(['before', 'from ana'])
    expect(a.of('typing_indicator')).toEqual([])
    expect(s.of('message').map((m) => m.content)).toEqual(['before', 'after', 'from ana'])
  })
})

describe('logs', () => {
  it('never contain a socket token', async () => {
    const logs = capturedLogs()
    t = await buildSocketTestApp({ logger: logs.logger })
    const ana = await t.signUp('ana')
    const session = await ana.createSession()

    const a = await t.connect(ana, session.id)
    await a.next('user_joined')
    await t.socket(`/api/v1/chat/ws/${session.id}?token=${ana.token}x`).closed
    await a.close()

    expect(logs.text()).not.toContain(ana.token)
  })
})
