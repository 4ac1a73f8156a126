import { afterEach, describe, expect, it } from 'vitest'
import { startSdkApp, type SdkTestApp } from '../test/support/sdk-app.js'
import { ChatApiError, RestClient, type Message } from './index.js'

let s: SdkTestApp | undefined
afterEach(async () => {
  await s?.close()
  s = undefined
})

async function setUp() {
  s = await startSdkApp()
  const alice = await s.signUp('alice')
  const bob = await s.signUp('bob', 'agent')
  const rest = new RestClient({ baseUrl: s.baseUrl, token: alice.token })
  const session = await rest.createSession({ title: 'Card declined', assigned_agent_id: bob.id })
  return { s, alice, bob, rest, session }
}

const contentsOf = (messages: Message[]) => messages.map((m) => m.content)

async function sendNumbered(rest: RestClient, sessionId: string, count: number) {
  const sent: Message[] = []
  for (let i = 1; i <= count; i++) sent.push(await rest.sendMessage(sessionId, { content: `${i}` }))
  return sent
}

describe('the REST client', () => {
  it('registers, logs in and uses the token it got', async () => {
    s = await startSdkApp()
    const rest = new RestClient({ baseUrl: `${s.baseUrl}/` })

    const user = await rest.register({ email: 'Ana@Example.com', password: 'password123' })
    const token = await rest.login({ email: 'ana@example.com', password: 'password123' })
    const me = await rest.me()

    expect(token).toMatchObject({ token_type: 'bearer', access_token: rest.token })
    expect(me).toEqual(user)
    expect(me.role).toBe('user')
  })

  it('turns an error body into a ChatApiError with status, code and detail', async () => {
    const { s, rest } = await setUp()
    const anonymous = new RestClient({ baseUrl: s.baseUrl })

    const [unknown, unauthenticated, wrongPassword] = await Promise.allSettled([
      rest.getSession('00000000-0000-4000-8000-000000000000'),
      anonymous.listSessions(),
      anonymous.login({ email: 'nobody@example.com', password: 'password123' }),
    ])

    expect(unknown).toMatchObject({ reason: expect.any(ChatApiError) })
    expect(unknown).toMatchObject({ reason: { status: 404, code: 'not_found' } })
    expect(unauthenticated).toMatchObject({ reason: { status: 401, code: 'unauthenticated' } })
    expect(wrongPassword).toMatchObject({ reason: { status: 401, detail: expect.any(String) } })
    expect(anonymous.token).toBeUndefined()
  })

  it('reports a server it cannot reach as a network_error with status 0', async () => {
    const { s, rest } = await setUp()
    await s.stop()

    const error = await rest.me().catch((e: unknown) => e)

    expect(error).toMatchObject({ name: 'ChatApiError', status: 0, code: 'network_error' })
    expect((error as ChatApiError).isTransient).toBe(true)
  })

  it('manages sessions, participants, read marks and blocks', async () => {
    const { s, alice, bob, rest, session } = await setUp()
    const carol = await s.signUp('carol')
    const asBob = new RestClient({ baseUrl: s.baseUrl, token: bob.token })

    const added = await rest.addParticipant(session.id, carol.id)
    const sent = await rest.sendMessage(session.id, { content: 'hello' })
    const read = await asBob.markRead(session.id, sent.id)
    const participants = await rest.participants(session.id)
    const renamed = await asBob.updateSession(session.id, { title: 'Card declined twice' })
    const blocked = await rest.block(carol.id, 'spam')
    const blockList = await rest.listBlocked()
    const unblocked = await rest.unblock(carol.id)
    const closed = await rest.closeSession(session.id)
    const listed = await rest.listSessions({ status: 'closed' })

    expect(added).toMatchObject({ user_id: carol.id, role: 'user' })
    expect(read).toMatchObject({ success: true, message: 'Messages marked as read' })
    expect(participants.map((p) => p.user_id).sort()).toEqual([alice.id, bob.id, carol.id].sort())
    expect(renamed.title).toBe('Card declined twice')
    expect(blocked).toEqual({ success: true, message: 'User blocked' })
    expect(blockList).toEqual([expect.objectContaining({ user_id: carol.id, reason: 'spam' })])
    expect(unblocked).toEqual({ success: true, message: 'User unblocked' })
    expect(closed).toEqual({ success: true, message: 'Session closed' })
    expect(listed.map((l) => [l.id, l.status, l.total_messages])).toEqual([
      [session.id, 'closed', 1],
    ])
  })

  it('sends over REST idempotently with a client_message_id', async () => {
    const { rest, session } = await setUp()

    const first = await rest.sendMessage(session.id, { content: 'hi', client_message_id: 'c-1' })
    const again = await rest.sendMessage(session.id, { content: 'hi', client_message_id: 'c-1' })

    expect(again.id).toBe(first.id)
    expect((await rest.getSession(session.id)).total_messages).toBe(1)
  })
})

describe('history paging', () => {
  it('pages by offset as the guide does, newest first', async () => {
    const { rest, session } = await setUp()
    await sendNumbered(rest, session.id, 7)

    const first = await rest.history(session.id, { limit: 3, offset: 0 })
    const next = await rest.history(session.id, { limit: 3, offset: 3 })

    expect(contentsOf(first)).toEqual(['7', '6', '5'])
    expect(contentsOf(next)).toEqual(['4', '3', '2'])
  })

  it('iterates backwards with before= without overlap or skip while messages arrive', async () => {
    const { rest, session } = await setUp()
    await sendNumbered(rest, session.id, 7)

    const pages: string[][] = []
    for await (const page of rest.historyPages(session.id, { limit: 3 })) {
      pages.push(contentsOf(page))
      if (pages.length === 1) await rest.sendMessage(session.id, { content: 'late' })
    }

    expect(pages).toEqual([['7', '6', '5'], ['4', '3', '2'], ['1']])
  })

  it('stops after the oldest message when the last page is exactly full', async () => {
    const { rest, session } = await setUp()
    await sendNumbered(rest, session.id, 4)

    const pages: string[][] = []
    for await (const page of rest.historyPages(session.id, { limit: 2 })) {
      pages.push(contentsOf(page))
    }

    expect(pages).toEqual([
      ['4', '3'],
      ['2', '1'],
    ])
  })

  it('catches up after a message with after=, oldest first, across pages', async () => {
    const { rest, session } = await setUp()
    const sent = await sendNumbered(rest, session.id, 7)

    const missed = await rest.catchUp(session.id, sent[1]!.id, { limit: 2 })
    const nothing = await rest.catchUp(session.id, sent[6]!.id)

    expect(contentsOf(missed)).toEqual(['3', '4', '5', '6', '7'])
    expect(missed.map((m) => m.seq)).toEqual([3, 4, 5, 6, 7])
    expect(nothing).toEqual([])
  })
})
