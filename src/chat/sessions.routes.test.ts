import { afterEach, describe, expect, it } from 'vitest'
import { buildTestApp, type TestApp } from '../testing/test-app.js'
import type { Participant, Session } from './chat.schemas.js'

const SESSIONS = '/api/v1/chat/sessions'

describe('chat sessions', () => {
  let t: TestApp
  afterEach(() => t?.close())

  it('creates a session from the guide’s example body, verbatim', async () => {
    t = await buildTestApp()
    const ana = await t.signUp('ana')

    const res = await ana.post(SESSIONS, { title: 'Support Chat', assigned_agent_id: null })

    expect(res.statusCode).toBe(201)
    const session = res.json<Session>()
    expect(Object.keys(session).slice(0, 10)).toEqual([
      'id',
      'title',
      'status',
      'initiator_id',
      'assigned_agent_id',
      'created_at',
      'started_at',
      'closed_at',
      'total_messages',
      'unread_count',
    ])
    expect(session).toMatchObject({
      title: 'Support Chat',
      status: 'active',
      initiator_id: ana.id,
      assigned_agent_id: null,
      started_at: null,
      closed_at: null,
      total_messages: 0,
      unread_count: 0,
      last_message_at: null,
    })
    expect(session.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
  })

  it('makes the caller, the assigned agent and invited users participants', async () => {
    t = await buildTestApp()
    const [ana, sam, bob] = [
      await t.signUp('ana'),
      await t.signUp('sam', 'agent'),
      await t.signUp('bob'),
    ]

    const session = await ana.createSession({
      title: 'Card',
      assigned_agent_id: sam.id,
      participant_ids: [bob.id],
    })
    const participants = (await ana.get(`${SESSIONS}/${session.id}/participants`)).json<
      Participant[]
    >()

    expect(session.assigned_agent_id).toBe(sam.id)
    expect(participants.map((p) => [p.user_id, p.role]).sort()).toEqual(
      [
        [ana.id, 'user'],
        [sam.id, 'agent'],
        [bob.id, 'user'],
      ].sort(),
    )
    expect(participants.every((p) => p.is_active && !p.is_online && p.last_read_at === null)).toBe(
      true,
    )
  })

  it('refuses an assigned agent who is not an agent, and unknown invitees', async () => {
    t = await buildTestApp()
    const [ana, bob] = [await t.signUp('ana'), await t.signUp('bob')]

    const notAgent = await ana.post(SESSIONS, { title: 'x', assigned_agent_id: bob.id })
    const unknown = await ana.post(SESSIONS, {
      title: 'x',
      participant_ids: ['00000000-0000-4000-8000-000000000000'],
    })

    expect(notAgent.statusCode).toBe(400)
    expect(unknown.statusCode).toBe(404)
    expect((await ana.get(SESSIONS)).json()).toEqual([])
  })

  it('lists the caller’s sessions, newest activity first, with status filter and paging', async () => {
    t = await buildTestApp()
    const [ana, bob] = [await t.signUp('ana'), await t.signUp('bob')]
    const first = await ana.createSession({ title: 'first' })
    const second = await ana.createSession({ title: 'second' })
    await bob.createSession({ title: 'bob’s' })
    await ana.send(first.id, 'bump')
    await ana.post(`${SESSIONS}/${second.id}/close`)

    const all = (await ana.get(SESSIONS)).json<Session[]>()
    const active = (await ana.get(`${SESSIONS}?status=active`)).json<Session[]>()
    const closed = (await ana.get(`${SESSIONS}?status=closed`)).json<Session[]>()
    const page = (await ana.get(`${SESSIONS}?limit=1&offset=1`)).json<Session[]>()

    expect(all.map((s) => s.title)).toEqual(['first', 'second'])
    expect(active.map((s) => s.title)).toEqual(['first'])
    expect(closed.map((s) => s.title)).toEqual(['second'])
    expect(page.map((s) => s.title)).toEqual(['second'])
  })

  it('shows admins every session and agents the unassigned queue', async () => {
    t = await buildTestApp()
    const [ana, sam, root] = [
      await t.signUp('ana'),
      await t.signUp('sam', 'agent'),
      await t.signUp('root', 'admin'),
    ]
    const open = await ana.createSession({ title: 'open' })
    await ana.createSession({ title: 'taken', assigned_agent_id: sam.id })
    const closed = await ana.createSession({ title: 'closed' })
    await ana.post(`${SESSIONS}/${closed.id}/close`)

    const queue = (await sam.get(`${SESSIONS}?queue=unassigned`)).json<Session[]>()
    const adminAll = (await root.get(SESSIONS)).json<Session[]>()
    const userQueue = await ana.get(`${SESSIONS}?queue=unassigned`)

    expect(queue.map((s) => s.id)).toEqual([open.id])
    expect(adminAll).toHaveLength(3)
    expect(userQueue.statusCode).toBe(403)
  })

  it('gets a session for participants and admins only', async () => {
    t = await buildTestApp()
    const [ana, bob, root] = [
      await t.signUp('ana'),
      await t.signUp('bob'),
      await t.signUp('root', 'admin'),
    ]
    const session = await ana.createSession()

    expect((await ana.get(`${SESSIONS}/${session.id}`)).json()).toMatchObject({ id: session.id })
    expect((await root.get(`${SESSIONS}/${session.id}`)).statusCode).toBe(200)
    expect((await bob.get(`${SESSIONS}/${session.id}`)).statusCode).toBe(403)
    expect((await bob.get(`${SESSIONS}/00000000-0000-4000-8000-000000000000`)).statusCode).toBe(404)
  })

  it('lets the session’s agent or an admin rename and reassign it', async () => {
    t = await buildTestApp()
    const [ana, sam, kim] = [
      await t.signUp('ana'),
      await t.signUp('sam', 'agent'),
      await t.signUp('kim', 'agent'),
    ]
    const session = await ana.createSession({ title: 'Card', assigned_agent_id: sam.id })

    const byCustomer = await ana.patch(`${SESSIONS}/${session.id}`, { title: 'Mine' })
    const byAgent = await sam.patch(`${SESSIONS}/${session.id}`, {
      title: 'Card declined',
      assigned_agent_id: kim.id,
    })
    const kimSees = await kim.get(`${SESSIONS}/${session.id}`)

    expect(byCustomer.statusCode).toBe(403)
    expect(byAgent.json()).toMatchObject({ title: 'Card declined', assigned_agent_id: kim.id })
    expect(kimSees.statusCode).toBe(200)
  })

  it('closes a session for its initiator, idempotently, and then refuses messages', async () => {
    t = await buildTestApp()
    const [ana, bob] = [await t.signUp('ana'), await t.signUp('bob')]
    const session = await ana.createSession({ title: 'x', participant_ids: [bob.id] })

    const byOther = await bob.post(`${SESSIONS}/${session.id}/close`)
    const first = await ana.post(`${SESSIONS}/${session.id}/close`)
    const second = await ana.post(`${SESSIONS}/${session.id}/close`)
    const send = await ana.post(`${SESSIONS}/${session.id}/messages`, { content: 'hello?' })
    const after = (await ana.get(`${SESSIONS}/${session.id}`)).json<Session>()

    expect(byOther.statusCode).toBe(403)
    expect(first.json()).toEqual({ success: true, message: 'Session closed' })
    expect(second.json()).toEqual({ success: true, message: 'Session closed' })
    expect(send.statusCode).toBe(409)
    expect(after.status).toBe('closed')
    expect(after.closed_at).not.toBeNull()
    expect(after.total_messages).toBe(0)
  })

  it('accepts a close with a JSON content type and an empty body', async () => {
    t = await buildTestApp()
    const ana = await t.signUp('ana')
    const session = await ana.createSession()

    const res = await ana.request({
      method: 'POST',
      url: `${SESSIONS}/${session.id}/close`,
      headers: { 'content-type': 'application/json' },
      payload: '',
    })

    expect(res.statusCode).toBe(200)
  })
})

describe('participants', () => {
  let t: TestApp
  afterEach(() => t?.close())

  it('lets the initiator add someone, twice without harm', async () => {
    t = await buildTestApp()
    const [ana, bob] = [await t.signUp('ana'), await t.signUp('bob')]
    const session = await ana.createSession()

    const first = await ana.addParticipant(session.id, bob.id)
    const second = await ana.addParticipant(session.id, bob.id)

    expect(first.statusCode).toBe(201)
    expect(first.json()).toMatchObject({
      user_id: bob.id,
      role: 'user',
      is_active: true,
      is_online: false,
    })
    expect(second.statusCode).toBe(200)
    expect(second.json<Participant>().id).toBe(first.json<Participant>().id)
    expect((await ana.get(`${SESSIONS}/${session.id}/participants`)).json()).toHaveLength(2)
  })

  it('lets an agent claim an unassigned session by adding themself, once', async () => {
    t = await buildTestApp()
    const [ana, sam, kim] = [
      await t.signUp('ana'),
      await t.signUp('sam', 'agent'),
      await t.signUp('kim', 'agent'),
    ]
    const session = await ana.createSession()

    const claim = await sam.addParticipant(session.id, sam.id)
    const late = await kim.addParticipant(session.id, kim.id)
    const after = (await sam.get(`${SESSIONS}/${session.id}`)).json<Session>()
    const queue = (await kim.get(`${SESSIONS}?queue=unassigned`)).json<Session[]>()

    expect(claim.statusCode).toBe(201)
    expect(claim.json()).toMatchObject({ role: 'agent' })
    expect(late.statusCode).toBe(403)
    expect(after.assigned_agent_id).toBe(sam.id)
    expect(queue).toEqual([])
  })

  it('refuses additions by outsiders and by plain participants', async () => {
    t = await buildTestApp()
    const [ana, bob, eve, joe] = [
      await t.signUp('ana'),
      await t.signUp('bob'),
      await t.signUp('eve'),
      await t.signUp('joe'),
    ]
    const session = await ana.createSession({ title: 'x', participant_ids: [bob.id] })

    const outsider = await eve.addParticipant(session.id, joe.id)
    const userSelf = await eve.addParticipant(session.id, eve.id)
    const plain = await bob.addParticipant(session.id, joe.id)

    expect(outsider.statusCode).toBe(403)
    expect(userSelf.statusCode).toBe(403)
    expect(plain.statusCode).toBe(403)
    expect((await ana.get(`${SESSIONS}/${session.id}/participants`)).json()).toHaveLength(2)
  })

  it('answers 404 for an unknown user and 409 for a closed session', async () => {
    t = await buildTestApp()
    const [ana, bob] = [await t.signUp('ana'), await t.signUp('bob')]
    const session = await ana.createSession()

    const unknown = await ana.addParticipant(session.id, '00000000-0000-4000-8000-000000000000')
    await ana.post(`${SESSIONS}/${session.id}/close`)
    const closed = await ana.addParticipant(session.id, bob.id)

    expect(unknown.statusCode).toBe(404)
    expect(closed.statusCode).toBe(409)
  })
})
