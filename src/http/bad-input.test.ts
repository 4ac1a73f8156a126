import type { InjectOptions } from 'fastify'
import { afterEach, describe, expect, it } from 'vitest'
import { buildTestApp, type TestApp, type TestClient } from '../testing/test-app.js'

const SESSIONS = '/api/v1/chat/sessions'
const NIL = '00000000-0000-4000-8000-000000000000'

/**
 * Bad input of every kind the issue names. Each answer must be the contract's error body with the
 * right status (never a 500), and none may change what is stored.
 */
describe('bad input', () => {
  let t: TestApp
  let ana: TestClient
  let bob: TestClient
  let sessionId: string
  let closedId: string
  afterEach(() => t?.close())

  async function setUp() {
    t = await buildTestApp()
    ana = await t.signUp('ana')
    bob = await t.signUp('bob')
    sessionId = (await ana.createSession({ title: 'open' })).id
    closedId = (await ana.createSession({ title: 'closed' })).id
    await ana.send(sessionId, 'first')
    await ana.post(`${SESSIONS}/${closedId}/close`)
  }

  /** Everything stored, so a test can prove a refused request changed nothing. */
  async function snapshot() {
    const [sessions, messages, participants, blocks] = await Promise.all([
      t.store.sessions.listAll({ status: undefined, limit: 100, offset: 0 }),
      t.store.messages.history({
        sessionId,
        limit: 100,
        hiddenSenders: [],
        position: { afterSeq: 0 },
      }),
      t.store.participants.list(sessionId),
      t.store.blocks.listByBlocker(ana.id),
    ])
    return JSON.stringify({ sessions, messages, participants, blocks })
  }

  const raw = (client: TestClient, options: InjectOptions) => client.request(options)
  const json = (client: TestClient, method: 'POST' | 'PATCH', url: string, payload: string) =>
    client.request({ method, url, payload, headers: { 'content-type': 'application/json' } })

  type Case = [
    name: string,
    status: number,
    send: () => Promise<{
      statusCode: number
      json: () => unknown
      headers: Record<string, unknown>
    }>,
  ]

  const cases = (): Case[] => [
    ['garbled JSON', 400, () => json(ana, 'POST', SESSIONS, '{"title": "x",')],
    ['JSON that is not an object', 400, () => json(ana, 'POST', SESSIONS, '"Support Chat"')],
    ['a JSON array', 400, () => json(ana, 'POST', SESSIONS, '[1, 2]')],
    ['a missing body', 400, () => raw(ana, { method: 'POST', url: SESSIONS })],
    ['a missing title', 400, () => ana.post(SESSIONS, { assigned_agent_id: null })],
    ['a title of the wrong type', 400, () => ana.post(SESSIONS, { title: 123 })],
    ['a title of 201 characters', 400, () => ana.post(SESSIONS, { title: 'x'.repeat(201) })],
    ['an empty title', 400, () => ana.post(SESSIONS, { title: '' })],
    [
      'a participant list of the wrong type',
      400,
      () => ana.post(SESSIONS, { title: 'x', participant_ids: 'bob' }),
    ],
    [
      'a non-UUID agent id',
      400,
      () => ana.post(SESSIONS, { title: 'x', assigned_agent_id: 'agent-1' }),
    ],
    [
      'a 1 MB body',
      413,
      () =>
        json(ana, 'POST', SESSIONS, JSON.stringify({ title: 'x', pad: 'y'.repeat(1024 * 1024) })),
    ],
    [
      'a body that is not JSON',
      400,
      () =>
        raw(ana, {
          method: 'POST',
          url: SESSIONS,
          payload: 'title=x',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
        }),
    ],
    ['a non-UUID session id', 400, () => ana.get(`${SESSIONS}/not-a-uuid`)],
    ['a malformed escape in the path', 400, () => ana.get(`${SESSIONS}/%E0%A4%A`)],
    ['an over-long path segment', 400, () => ana.get(`${SESSIONS}/${'a'.repeat(5000)}`)],
    ['a non-UUID session id in messages', 400, () => ana.get(`${SESSIONS}/123/messages`)],
    ['an unknown session', 404, () => ana.get(`${SESSIONS}/${NIL}`)],
    [
      'an unknown session for messages',
      404,
      () => ana.post(`${SESSIONS}/${NIL}/messages`, { content: 'hi' }),
    ],
    ['another user’s session', 403, () => bob.get(`${SESSIONS}/${sessionId}`)],
    ['another user’s messages', 403, () => bob.get(`${SESSIONS}/${sessionId}/messages`)],
    [
      'sending into another user’s session',
      403,
      () => bob.post(`${SESSIONS}/${sessionId}/messages`, { content: 'hi' }),
    ],
    ['closing another user’s session', 403, () => bob.post(`${SESSIONS}/${sessionId}/close`)],
    [
      'renaming another user’s session',
      403,
      () => bob.patch(`${SESSIONS}/${sessionId}`, { title: 'mine' }),
    ],
    [
      'sending into a closed session',
      409,
      () => ana.post(`${SESSIONS}/${closedId}/messages`, { content: 'hi' }),
    ],
    [
      'an unknown message id in mark-read',
      404,
      () => ana.post(`${SESSIONS}/${sessionId}/mark-read`, { up_to_message_id: NIL }),
    ],
    [
      'a non-UUID message id in mark-read',
      400,
      () => ana.post(`${SESSIONS}/${sessionId}/mark-read`, { up_to_message_id: 'm-1' }),
    ],
    [
      'a history limit that is not a number',
      400,
      () => ana.get(`${SESSIONS}/${sessionId}/messages?limit=lots`),
    ],
    ['a negative offset', 400, () => ana.get(`${SESSIONS}/${sessionId}/messages?offset=-1`)],
    ['an unknown status filter', 400, () => ana.get(`${SESSIONS}?status=pending`)],
    [
      'a content of the wrong type',
      400,
      () => ana.post(`${SESSIONS}/${sessionId}/messages`, { content: { text: 'hi' } }),
    ],
    [
      'a message type the REST API does not take',
      400,
      () => ana.post(`${SESSIONS}/${sessionId}/messages`, { message_type: 'system', content: 'x' }),
    ],
    [
      'a non-UUID reply_to_id',
      400,
      () => ana.post(`${SESSIONS}/${sessionId}/messages`, { content: 'x', reply_to_id: 'm-1' }),
    ],
    ['blocking a non-UUID', 400, () => ana.post('/api/v1/chat/block', { user_id: 'bob' })],
    ['a block without user_id', 400, () => ana.post('/api/v1/chat/block', {})],
    ['a plain user calling ws-stats', 403, () => ana.get('/api/v1/chat/ws-stats')],
    [
      'a plain user calling admin routes',
      403,
      () =>
        ana.post('/api/v1/admin/users', {
          email: 'x@example.com',
          password: 'password123',
          role: 'admin',
        }),
    ],
    [
      'an admin route without a token',
      401,
      () => t.app.inject({ method: 'POST', url: '/api/v1/admin/users', payload: {} }),
    ],
    ['an unknown route', 404, () => ana.get('/api/v1/chat/nothing-here')],
    [
      'a register body with a bad email',
      400,
      () =>
        t.app.inject({
          method: 'POST',
          url: '/api/v1/auth/register',
          payload: { email: 'nope', password: 'password123' },
        }),
    ],
    [
      'a login with a password of the wrong type',
      400,
      () =>
        t.app.inject({
          method: 'POST',
          url: '/api/v1/auth/login',
          payload: { email: 'a@example.com', password: 12345678 },
        }),
    ],
  ]

  it('answers each with the right status and the contract’s error body, and stores nothing', async () => {
    await setUp()
    const before = await snapshot()

    for (const [name, status, send] of cases()) {
      const res = await send()
      expect(res.statusCode, name).toBe(status)
      expect(res.json(), name).toEqual({
        detail: expect.any(String),
        code: expect.stringMatching(/^[a-z_]+$/),
      })
    }

    expect(await snapshot()).toBe(before)
  })

  it('ignores unknown fields', async () => {
    await setUp()

    const res = await ana.post(SESSIONS, { title: 'Support Chat', color: 'blue', nested: { a: 1 } })

    expect(res.statusCode).toBe(201)
    expect(res.json()).not.toHaveProperty('color')
  })

  it('names the field at fault', async () => {
    await setUp()

    const long = await ana.post(SESSIONS, { title: 'x'.repeat(201) })
    const missing = await ana.post(SESSIONS, {})

    expect(long.json<{ detail: string }>().detail).toMatch(/title/)
    expect(missing.json<{ detail: string }>().detail).toMatch(/title is required/)
  })
})
