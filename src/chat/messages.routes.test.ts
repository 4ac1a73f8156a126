import { afterEach, describe, expect, it } from 'vitest'
import { buildTestApp, type TestApp, type TestClient } from '../testing/test-app.js'
import type { Message, Session } from './chat.schemas.js'

const SESSIONS = '/api/v1/chat/sessions'
const messagesOf = (sessionId: string, query = '') => `${SESSIONS}/${sessionId}/messages${query}`

async function pair(t: TestApp): Promise<{ ana: TestClient; sam: TestClient; session: Session }> {
  const ana = await t.signUp('ana')
  const sam = await t.signUp('sam', 'agent')
  const session = await ana.createSession({ title: 'Wallet', assigned_agent_id: sam.id })
  return { ana, sam, session }
}

describe('sending over REST', () => {
  let t: TestApp
  afterEach(() => t?.close())

  it('stores a text message with its seq and the guide’s fields', async () => {
    t = await buildTestApp()
    const { ana, session } = await pair(t)

    const res = await ana.post(messagesOf(session.id), {
      message_type: 'text',
      content: 'Hello, I need help with my wallet',
      reply_to_id: null,
      mentions: ['user-id-1', 'user-id-2'],
    })
    const after = (await ana.get(`${SESSIONS}/${session.id}`)).json<Session>()

    expect(res.statusCode).toBe(201)
    expect(res.json()).toMatchObject({
      chat_session_id: session.id,
      sender_id: ana.id,
      message_type: 'text',
      content: 'Hello, I need help with my wallet',
      status: 'sent',
      read_by_count: 0,
      seq: 1,
      reply_to_id: null,
      mentions: ['user-id-1', 'user-id-2'],
      client_message_id: null,
    })
    expect(after).toMatchObject({ total_messages: 1, last_seq: 1 })
    expect(after.started_at).not.toBeNull()
    expect(after.last_message_at).not.toBeNull()
  })

  it('stores a file message from the guide’s frame, content being the file name', async () => {
    t = await buildTestApp()
    const { ana, session } = await pair(t)

    const full = await ana.post(messagesOf(session.id), {
      message_type: 'file',
      content: 'Receipt.pdf',
      file_url: 'https://bucket.s3.amazonaws.com/files/receipt.pdf',
      file_name: 'Receipt.pdf',
      file_size: 245000,
      file_type: 'application/pdf',
    })
    const noSizeNoContent = await ana.post(messagesOf(session.id), {
      message_type: 'file',
      file_url: 'https://bucket.s3.amazonaws.com/files/photo.jpg',
      file_name: 'photo.jpg',
      file_type: 'image/jpeg',
    })

    expect(full.statusCode).toBe(201)
    expect(full.json()).toMatchObject({
      message_type: 'file',
      file_size: 245000,
      file_type: 'application/pdf',
    })
    expect(noSizeNoContent.json()).toMatchObject({ content: 'photo.jpg', file_size: null })
  })

  it('refuses a file_url that is not an absolute http(s) URL', async () => {
    t = await buildTestApp()
    const { ana, session } = await pair(t)

    for (const url of ['/files/r.pdf', 'javascript:alert(1)', 'ftp://x/y', 'file:///etc/passwd']) {
      const res = await ana.post(messagesOf(session.id), {
        message_type: 'file',
        file_url: url,
        file_name: 'r.pdf',
        file_type: 'application/pdf',
      })
      expect(res.statusCode, url).toBe(400)
      expect(res.json<{ code: string }>().code).toBe('invalid_file_url')
    }
    expect((await ana.get(messagesOf(session.id))).json()).toEqual([])
  })

  it('returns the stored message for a repeated client_message_id without storing it again', async () => {
    t = await buildTestApp()
    const { ana, sam, session } = await pair(t)

    const first = await ana.post(messagesOf(session.id), {
      content: 'once',
      client_message_id: 'c-1',
    })
    const again = await ana.post(messagesOf(session.id), {
      content: 'once',
      client_message_id: 'c-1',
    })
    const samsOwn = await sam.post(messagesOf(session.id), {
      content: 'mine',
      client_message_id: 'c-1',
    })

    expect(first.statusCode).toBe(201)
    expect(again.statusCode).toBe(200)
    expect(again.json<Message>().id).toBe(first.json<Message>().id)
    expect(samsOwn.statusCode).toBe(201)
    expect(samsOwn.json<Message>().seq).toBe(2)
  })

  it('refuses content that is missing, blank or over 4,000 characters, and counts emoji once', async () => {
    t = await buildTestApp()
    const { ana, session } = await pair(t)

    const missing = await ana.post(messagesOf(session.id), { message_type: 'text' })
    const blank = await ana.post(messagesOf(session.id), { content: '   ' })
    const long = await ana.post(messagesOf(session.id), { content: 'x'.repeat(4001) })
    const emoji = await ana.post(messagesOf(session.id), { content: '😀'.repeat(4000) })

    expect([missing.statusCode, blank.statusCode, long.statusCode]).toEqual([400, 400, 400])
    expect(long.json<{ detail: string }>().detail).toContain('4,000')
    expect(emoji.statusCode).toBe(201)
  })

  it('refuses a reply to a message of another session', async () => {
    t = await buildTestApp()
    const { ana, session } = await pair(t)
    const other = await ana.createSession({ title: 'other' })
    const foreign = await ana.send(other.id, 'elsewhere')

    const res = await ana.post(messagesOf(session.id), { content: 'hm', reply_to_id: foreign.id })
    const ok = await ana.post(messagesOf(other.id), { content: 'hm', reply_to_id: foreign.id })

    expect(res.statusCode).toBe(400)
    expect(ok.statusCode).toBe(201)
  })

  it('refuses senders who do not take part, admins included', async () => {
    t = await buildTestApp()
    const { session } = await pair(t)
    const [eve, root] = [await t.signUp('eve'), await t.signUp('root', 'admin')]

    expect((await eve.post(messagesOf(session.id), { content: 'hi' })).statusCode).toBe(403)
    expect((await root.post(messagesOf(session.id), { content: 'hi' })).statusCode).toBe(403)
  })

  it('numbers 200 concurrent sends from two users 1..200, each message once', async () => {
    t = await buildTestApp({ env: { MESSAGE_RATE_BURST: '1000' } })
    const { ana, sam, session } = await pair(t)

    const replies = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        (i % 2 ? ana : sam).post(messagesOf(session.id), { content: `m${i}` }),
      ),
    )
    const history = [
      ...(await ana.get(messagesOf(session.id, '?limit=100'))).json<Message[]>(),
      ...(await ana.get(messagesOf(session.id, '?limit=100&offset=100'))).json<Message[]>(),
    ]

    expect(replies.map((reply) => reply.statusCode)).toEqual(Array(200).fill(201))
    const seqs = replies.map((reply) => reply.json<Message>().seq).sort((a, b) => a - b)
    expect(seqs).toEqual(Array.from({ length: 200 }, (_, i) => i + 1))
    expect(history.map((m) => m.seq)).toEqual(Array.from({ length: 200 }, (_, i) => 200 - i))
    expect(new Set(history.map((m) => m.content)).size).toBe(200)
  })

  it('limits sends per user and answers 429 with Retry-After', async () => {
    t = await buildTestApp({ env: { MESSAGE_RATE_BURST: '3', MESSAGE_RATE_PER_SECOND: '0.1' } })
    const { ana, sam, session } = await pair(t)

    const codes = []
    for (let i = 0; i < 4; i++)
      codes.push((await ana.post(messagesOf(session.id), { content: `m${i}` })).statusCode)
    const limited = await ana.post(messagesOf(session.id), { content: 'more' })
    const other = await sam.post(messagesOf(session.id), { content: 'agent is fine' })

    expect(codes).toEqual([201, 201, 201, 429])
    expect(limited.headers['retry-after']).toBeDefined()
    expect(limited.json<{ code: string }>().code).toBe('rate_limited')
    expect(other.statusCode).toBe(201)
  })
})

describe('history', () => {
  let t: TestApp
  afterEach(() => t?.close())

  async function withMessages(count: number) {
    const { ana, sam, session } = await pair(t)
    const sent = []
    for (let i = 1; i <= count; i++) sent.push(await (i % 2 ? ana : sam).send(session.id, `m${i}`))
    return { ana, sam, session, sent }
  }

  it('pages newest first by limit and offset, as the guide loads more on scroll', async () => {
    t = await buildTestApp()
    const { ana, session } = await withMessages(7)

    const first = (await ana.get(messagesOf(session.id, '?limit=3&offset=0'))).json<Message[]>()
    const next = (await ana.get(messagesOf(session.id, '?limit=3&offset=3'))).json<Message[]>()
    const last = (await ana.get(messagesOf(session.id, '?limit=3&offset=6'))).json<Message[]>()
    const beyond = (await ana.get(messagesOf(session.id, '?limit=3&offset=10'))).json<Message[]>()
    const byDefault = (await ana.get(messagesOf(session.id))).json<Message[]>()

    expect(first.map((m) => m.content)).toEqual(['m7', 'm6', 'm5'])
    expect(next.map((m) => m.content)).toEqual(['m4', 'm3', 'm2'])
    expect(last.map((m) => m.content)).toEqual(['m1'])
    expect(beyond).toEqual([])
    expect(byDefault).toHaveLength(7)
  })

  it('pages by before and after cursors', async () => {
    t = await buildTestApp()
    const { ana, session, sent } = await withMessages(6)

    const before = (await ana.get(messagesOf(session.id, `?before=${sent[3]!.id}&limit=2`))).json<
      Message[]
    >()
    const after = (await ana.get(messagesOf(session.id, `?after=${sent[1]!.id}&limit=3`))).json<
      Message[]
    >()

    expect(before.map((m) => m.seq)).toEqual([3, 2])
    expect(after.map((m) => m.seq)).toEqual([3, 4, 5])
  })

  it('refuses two cursors, a cursor with offset, and a cursor from another session', async () => {
    t = await buildTestApp()
    const { ana, session, sent } = await withMessages(2)
    const other = await ana.createSession({ title: 'other' })
    const foreign = await ana.send(other.id, 'x')

    const two = await ana.get(messagesOf(session.id, `?before=${sent[0]!.id}&after=${sent[1]!.id}`))
    const mixed = await ana.get(messagesOf(session.id, `?before=${sent[0]!.id}&offset=1`))
    const wrong = await ana.get(messagesOf(session.id, `?after=${foreign.id}`))
    const unknown = await ana.get(
      messagesOf(session.id, '?after=00000000-0000-4000-8000-000000000000'),
    )

    expect([two.statusCode, mixed.statusCode, wrong.statusCode, unknown.statusCode]).toEqual([
      400, 400, 400, 404,
    ])
  })

  it('bounds limit to 1..100', async () => {
    t = await buildTestApp()
    const { ana, session } = await withMessages(1)

    expect((await ana.get(messagesOf(session.id, '?limit=0'))).statusCode).toBe(400)
    expect((await ana.get(messagesOf(session.id, '?limit=101'))).statusCode).toBe(400)
    expect((await ana.get(messagesOf(session.id, '?limit=100'))).statusCode).toBe(200)
  })

  it('lets admins read any session and nobody else', async () => {
    t = await buildTestApp()
    const { session } = await withMessages(2)
    const [eve, root] = [await t.signUp('eve'), await t.signUp('root', 'admin')]

    expect((await eve.get(messagesOf(session.id))).statusCode).toBe(403)
    expect((await root.get(messagesOf(session.id))).json()).toHaveLength(2)
  })
})

describe('read marks and status', () => {
  let t: TestApp
  afterEach(() => t?.close())

  it('moves from sent to delivered (history fetch) to read (mark-read), with read_by_count', async () => {
    t = await buildTestApp()
    const { ana, sam, session } = await pair(t)
    const hello = await ana.send(session.id, 'hello')

    const sent = (await ana.get(messagesOf(session.id))).json<Message[]>()[0]
    await sam.get(messagesOf(session.id))
    const delivered = (await ana.get(messagesOf(session.id))).json<Message[]>()[0]
    const mark = await sam.post(`${SESSIONS}/${session.id}/mark-read`, {
      up_to_message_id: hello.id,
    })
    const read = (await ana.get(messagesOf(session.id))).json<Message[]>()[0]

    expect(sent).toMatchObject({ status: 'sent', read_by_count: 0 })
    expect(delivered).toMatchObject({ status: 'delivered', read_by_count: 0 })
    expect(mark.json()).toMatchObject({ success: true, message: 'Messages marked as read' })
    expect(mark.json<{ timestamp: string }>().timestamp).toMatch(/Z$/)
    expect(read).toMatchObject({ status: 'read', read_by_count: 1 })
  })

  it('counts unread messages for the caller and clears them with mark-read without an id', async () => {
    t = await buildTestApp()
    const { ana, sam, session } = await pair(t)
    await ana.send(session.id, 'one')
    await ana.send(session.id, 'two')
    await sam.send(session.id, 'reply')

    const samBefore = (await sam.get(`${SESSIONS}/${session.id}`)).json<Session>()
    const anaBefore = (await ana.get(SESSIONS)).json<Session[]>()[0]
    await sam.post(`${SESSIONS}/${session.id}/mark-read`)
    const samAfter = (await sam.get(`${SESSIONS}/${session.id}`)).json<Session>()
    const participants = (await ana.get(`${SESSIONS}/${session.id}/participants`)).json<
      Array<{ user_id: string; last_read_at: string | null }>
    >()

    expect(samBefore.unread_count).toBe(2)
    expect(anaBefore?.unread_count).toBe(1)
    expect(samAfter.unread_count).toBe(0)
    expect(participants.find((p) => p.user_id === sam.id)?.last_read_at).not.toBeNull()
  })

  it('never moves the read mark back', async () => {
    t = await buildTestApp()
    const { ana, sam, session } = await pair(t)
    const first = await ana.send(session.id, 'one')
    const second = await ana.send(session.id, 'two')

    await sam.post(`${SESSIONS}/${session.id}/mark-read`, { up_to_message_id: second.id })
    const back = await sam.post(`${SESSIONS}/${session.id}/mark-read`, {
      up_to_message_id: first.id,
    })
    const unread = (await sam.get(`${SESSIONS}/${session.id}`)).json<Session>().unread_count

    expect(back.statusCode).toBe(200)
    expect(unread).toBe(0)
  })

  it('refuses an unknown message id (404) and another session’s message (400)', async () => {
    t = await buildTestApp()
    const { ana, sam, session } = await pair(t)
    const other = await ana.createSession({ title: 'other' })
    const foreign = await ana.send(other.id, 'x')

    const unknown = await sam.post(`${SESSIONS}/${session.id}/mark-read`, {
      up_to_message_id: '00000000-0000-4000-8000-000000000000',
    })
    const wrong = await sam.post(`${SESSIONS}/${session.id}/mark-read`, {
      up_to_message_id: foreign.id,
    })

    expect(unknown.statusCode).toBe(404)
    expect(wrong.statusCode).toBe(400)
  })
})

describe('blocking', () => {
  let t: TestApp
  afterEach(() => t?.close())

  it('blocks and unblocks idempotently and lists the blocked users', async () => {
    t = await buildTestApp()
    const [ana, bob] = [await t.signUp('ana'), await t.signUp('bob')]

    const first = await ana.post('/api/v1/chat/block', { user_id: bob.id, reason: 'spam' })
    const again = await ana.post('/api/v1/chat/block', { user_id: bob.id })
    const list = (await ana.get('/api/v1/chat/block')).json<
      Array<{ user_id: string; reason: string | null }>
    >()
    const unblock = await ana.post('/api/v1/chat/unblock', { user_id: bob.id })
    const unblockAgain = await ana.post('/api/v1/chat/unblock', { user_id: bob.id })
    const empty = (await ana.get('/api/v1/chat/block')).json()

    expect(first.json()).toEqual({ success: true, message: 'User blocked' })
    expect(again.statusCode).toBe(200)
    expect(list).toMatchObject([{ user_id: bob.id, reason: 'spam' }])
    expect(unblock.json()).toEqual({ success: true, message: 'User unblocked' })
    expect(unblockAgain.statusCode).toBe(200)
    expect(empty).toEqual([])
  })

  it('refuses blocking yourself (400) and unknown users (404)', async () => {
    t = await buildTestApp()
    const ana = await t.signUp('ana')

    expect((await ana.post('/api/v1/chat/block', { user_id: ana.id })).statusCode).toBe(400)
    expect(
      (await ana.post('/api/v1/chat/block', { user_id: '00000000-0000-4000-8000-000000000000' }))
        .statusCode,
    ).toBe(404)
  })

  it('hides the blocked user’s messages from the blocker’s history and unread count', async () => {
    t = await buildTestApp()
    const [ana, bob, sam] = [
      await t.signUp('ana'),
      await t.signUp('bob'),
      await t.signUp('sam', 'agent'),
    ]
    const session = await sam.createSession({ title: 'group', participant_ids: [ana.id, bob.id] })
    await ana.send(session.id, 'a1')
    await bob.send(session.id, 'b1')
    await sam.send(session.id, 's1')
    await ana.post('/api/v1/chat/block', { user_id: bob.id })
    await bob.send(session.id, 'b2')

    const anaSees = (await ana.get(messagesOf(session.id))).json<Message[]>()
    const anaPage = (await ana.get(messagesOf(session.id, '?limit=1&offset=1'))).json<Message[]>()
    const anaUnread = (await ana.get(`${SESSIONS}/${session.id}`)).json<Session>().unread_count
    const samSees = (await sam.get(messagesOf(session.id))).json<Message[]>()

    expect(anaSees.map((m) => m.content)).toEqual(['s1', 'a1'])
    expect(anaPage.map((m) => m.content)).toEqual(['a1'])
    expect(anaUnread).toBe(1)
    expect(samSees).toHaveLength(4)
  })

  it('does not count a blocker as a reader of the blocked user’s messages', async () => {
    t = await buildTestApp()
    const [ana, bob] = [await t.signUp('ana'), await t.signUp('bob')]
    const session = await ana.createSession({ title: 'x', participant_ids: [bob.id] })
    await ana.post('/api/v1/chat/block', { user_id: bob.id })
    await bob.send(session.id, 'hidden')
    await ana.post(`${SESSIONS}/${session.id}/mark-read`)

    const bobSees = (await bob.get(messagesOf(session.id))).json<Message[]>()

    expect(bobSees[0]).toMatchObject({ status: 'sent', read_by_count: 0 })
  })

  it('stops the blocked user from starting a session with or adding the blocker', async () => {
    t = await buildTestApp()
    const [ana, bob, sam] = [
      await t.signUp('ana'),
      await t.signUp('bob'),
      await t.signUp('sam', 'agent'),
    ]
    await ana.post('/api/v1/chat/block', { user_id: bob.id })
    await sam.post('/api/v1/chat/block', { user_id: bob.id })
    const bobs = await bob.createSession({ title: 'mine' })

    const start = await bob.post(SESSIONS, { title: 'hi', participant_ids: [ana.id] })
    const assign = await bob.post(SESSIONS, { title: 'hi', assigned_agent_id: sam.id })
    const add = await bob.addParticipant(bobs.id, ana.id)
    const reverse = await ana.post(SESSIONS, { title: 'fine', participant_ids: [bob.id] })

    expect([start.statusCode, assign.statusCode, add.statusCode]).toEqual([403, 403, 403])
    expect(reverse.statusCode).toBe(201)
    expect((await bob.get(SESSIONS)).json()).toHaveLength(2)
  })
})
