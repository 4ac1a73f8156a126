import { afterEach, describe, expect, it } from 'vitest'
import type { Message } from '../src/chat/chat.schemas.js'
import type { MessageFrame } from '../src/realtime/protocol.js'
import type { TestClient } from '../src/testing/test-app.js'
import { flakyWebSocket, startSdkApp, until, type SdkTestApp } from '../test/support/sdk-app.js'
import type { ChatClient, ChatEvents, SocketForm } from './index.js'

let s: SdkTestApp | undefined
afterEach(async () => {
  await s?.close()
  s = undefined
})

async function setUp(env: Record<string, string> = {}) {
  s = await startSdkApp(env)
  const alice = await s.signUp('alice')
  const bob = await s.signUp('bob', 'agent')
  const session = await alice.createSession({ title: 'Card declined', participant_ids: [bob.id] })
  return { s, alice, bob, sessionId: session.id }
}

/** Everything `chat` emits of one kind, in order. */
function record<K extends keyof ChatEvents>(chat: ChatClient, event: K): Array<ChatEvents[K]> {
  const events: Array<ChatEvents[K]> = []
  chat.on(event, (payload) => events.push(payload))
  return events
}

const seqs = (messages: MessageFrame[]) => messages.map((m) => m.metadata.seq)
const contents = (messages: MessageFrame[]) => messages.map((m) => m.content)
const range = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => from + i)

async function history(user: TestClient, sessionId: string): Promise<Message[]> {
  const res = await s!.as(user).get(`/api/v1/chat/sessions/${sessionId}/messages?limit=100`)
  return res.json<Message[]>().reverse()
}

const FORMS: SocketForm[] = ['per-session', 'multiplexed']

describe.each(FORMS)('the SDK over the %s socket', (socketForm) => {
  it('delivers a message to every participant and resolves the send with the stored message', async () => {
    const { s, alice, bob, sessionId } = await setUp()
    const a = s.client(alice, { socketForm })
    const b = s.client(bob, { socketForm })
    const [aInbox, bInbox] = [record(a, 'message'), record(b, 'message')]
    await Promise.all([a.join(sessionId), b.join(sessionId)])

    const sent = await a.send(sessionId, { content: 'My card was declined', mentions: [bob.id] })
    await until(() => bInbox.length === 1, 'bob’s message')

    expect(sent).toMatchObject({
      message_type: 'message',
      chat_session_id: sessionId,
      user_id: alice.id,
      content: 'My card was declined',
      metadata: { seq: 1, mentions: [bob.id], client_message_id: expect.any(String) },
    })
    expect(bInbox).toEqual([sent])
    expect(aInbox).toEqual([sent])
    expect((await history(bob, sessionId)).map((m) => m.id)).toEqual([sent.metadata.message_id])
    expect(a.position(sessionId)).toEqual({ lastSeq: 1, lastMessageId: sent.metadata.message_id })
  })

  it('sends a file message with its file fields', async () => {
    const { s, alice, bob, sessionId } = await setUp()
    const a = s.client(alice, { socketForm })
    const b = s.client(bob, { socketForm })
    const bInbox = record(b, 'message')
    await Promise.all([a.join(sessionId), b.join(sessionId)])

    const sent = await a.sendFile(sessionId, {
      file_url: 'https://bucket.s3.amazonaws.com/files/receipt.pdf',
      file_name: 'Receipt.pdf',
      file_type: 'application/pdf',
    })
    await until(() => bInbox.length === 1, 'the file')

    expect(bInbox[0]).toEqual(sent)
    expect(sent.content).toBe('Receipt.pdf')
    expect(sent.metadata).toMatchObject({ kind: 'file', file_type: 'application/pdf' })
  })

  it('resumes after a server restart (1011) with what was sent meanwhile, once each, in order', async () => {
    const { s, alice, bob, sessionId } = await setUp()
    const flaky = flakyWebSocket()
    const a = s.client(alice, { socketForm })
    const b = s.client(bob, { socketForm, WebSocket: flaky.WebSocket })
    const bInbox = record(b, 'message')
    const bStates = record(b, 'state')
    await Promise.all([a.join(sessionId), b.join(sessionId)])
    await a.send(sessionId, { content: 'one' })
    await until(() => bInbox.length === 1, 'the first message')

    await s.stop()
    await until(() => bStates.some((change) => change.state === 'reconnecting'), 'a reconnect')
    await s.start(async (next) => {
      for (const content of ['two', 'three', 'four']) {
        await next.app.inject({
          method: 'POST',
          url: `/api/v1/chat/sessions/${sessionId}/messages`,
          headers: { authorization: `Bearer ${alice.token}` },
          payload: { content },
        })
      }
    })
    await until(() => bInbox.length === 4, 'the missed messages')
    await a.send(sessionId, { content: 'five' })
    await until(() => bInbox.length === 5, 'a live message after the restart')

    expect(seqs(bInbox)).toEqual([1, 2, 3, 4, 5])
    expect(contents(bInbox)).toEqual(['one', 'two', 'three', 'four', 'five'])
    expect(bStates.map((change) => change.state)).toEqual([
      'connecting',
      'open',
      'reconnecting',
      'open',
    ])
    const resumedFrom =
      socketForm === 'per-session'
        ? new URL(flaky.urls.at(-1)!).searchParams.get('last_seq')
        : flaky.sent.filter((f) => f.message_type === 'subscribe').at(-1)?.last_seq
    expect(String(resumedFrom)).toBe('1')
  })

  it('drops duplicate frames and a replay of what it has already delivered', async () => {
    const { s, alice, bob, sessionId } = await setUp()
    const doubling = flakyWebSocket((frame) =>
      frame.message_type === 'message' ? [frame, frame] : [frame],
    )
    for (const content of ['one', 'two', 'three']) await s.as(alice).send(sessionId, content)
    const a = s.client(alice, { socketForm })
    const b = s.client(bob, { socketForm, WebSocket: doubling.WebSocket })
    const bInbox = record(b, 'message')

    await Promise.all([a.join(sessionId), b.join(sessionId, { lastSeq: 0 })])
    await until(() => bInbox.length === 3, 'the replay')
    const sent = await Promise.all([
      a.send(sessionId, { content: 'four' }),
      a.send(sessionId, { content: 'five' }),
    ])
    await until(() => bInbox.length === 5, 'the live messages')
    doubling.cut()
    await until(() => doubling.urls.length === 2 && b.isLive(sessionId), 'a reconnect')
    await a.send(sessionId, { content: 'six' })
    await until(() => bInbox.length === 6, 'a message after the reconnect')

    expect(seqs(bInbox)).toEqual(range(1, 6))
    expect(seqs(sent)).toEqual([4, 5])
  })

  it('fills a gap from history before delivering the newer message', async () => {
    const { s, alice, bob, sessionId } = await setUp()
    const dropped = new Set([2, 3])
    const lossy = flakyWebSocket((frame) =>
      frame.message_type === 'message' && dropped.delete(frame.metadata.seq) ? [] : [frame],
    )
    const a = s.client(alice, { socketForm })
    const b = s.client(bob, { socketForm, WebSocket: lossy.WebSocket })
    const [aInbox, bInbox, bErrors] = [
      record(a, 'message'),
      record(b, 'message'),
      record(b, 'error'),
    ]
    await Promise.all([a.join(sessionId), b.join(sessionId)])

    await s.as(alice).send(sessionId, 'one')
    await s.as(alice).send(sessionId, 'Receipt.pdf', {
      message_type: 'file',
      file_url: 'https://bucket.s3.amazonaws.com/files/receipt.pdf',
      file_name: 'Receipt.pdf',
      file_size: 245000,
      file_type: 'application/pdf',
    })
    for (const content of ['three', 'four', 'five']) await s.as(alice).send(sessionId, content)
    await until(() => aInbox.length === 5 && bInbox.length === 5, 'every message')

    expect(dropped.size).toBe(0)
    expect(seqs(bInbox)).toEqual(range(1, 5))
    // Read from history, the missed ones look exactly as the socket would have shown them.
    expect(bInbox).toEqual(aInbox)
    expect(bErrors).toEqual([])
  })

  it('fills a gap before the first message it has seen by walking history back', async () => {
    const { s, alice, bob, sessionId } = await setUp()
    for (const content of ['one', 'two', 'three']) await s.as(alice).send(sessionId, content)
    const dropped = new Set([1, 2])
    const lossy = flakyWebSocket((frame) =>
      frame.message_type === 'message' && dropped.delete(frame.metadata.seq) ? [] : [frame],
    )
    const b = s.client(bob, { socketForm, WebSocket: lossy.WebSocket })
    const bInbox = record(b, 'message')

    await b.join(sessionId, { lastSeq: 0 })
    await until(() => bInbox.length === 3, 'the whole history')

    expect(dropped.size).toBe(0)
    expect(contents(bInbox)).toEqual(['one', 'two', 'three'])
  })

  it('takes the seq jumps of a viewer who blocks someone without asking history forever', async () => {
    const { s, alice, bob, sessionId } = await setUp()
    const carol = await s.signUp('carol')
    await s.as(alice).addParticipant(sessionId, carol.id)
    await s.as(bob).post('/api/v1/chat/block', { user_id: carol.id })
    const b = s.client(bob, { socketForm })
    const [bInbox, bErrors] = [record(b, 'message'), record(b, 'error')]
    await b.join(sessionId)

    await s.as(alice).send(sessionId, 'one')
    await s.as(carol).send(sessionId, 'hidden two')
    await s.as(carol).send(sessionId, 'hidden three')
    await s.as(alice).send(sessionId, 'four')
    await until(() => bInbox.length === 2, 'the visible messages')

    expect(contents(bInbox)).toEqual(['one', 'four'])
    expect(seqs(bInbox)).toEqual([1, 4])
    expect(bErrors).toEqual([])
  })

  it('sends again after a reconnect what was not acknowledged, and the server stores it once', async () => {
    const { s, alice, sessionId } = await setUp()
    // Lose the echo and the replay of the first send, so only the resend can acknowledge it.
    let echoesToLose = 2
    const flaky = flakyWebSocket((frame) =>
      frame.message_type === 'message' && frame.user_id === alice.id && echoesToLose-- > 0
        ? []
        : [frame],
    )
    const a = s.client(alice, { socketForm, WebSocket: flaky.WebSocket })
    await a.join(sessionId)

    const sending = a.send(sessionId, { content: 'Is anyone there?' })
    await until(() => echoesToLose === 1, 'the lost echo')
    flaky.cut()
    const sent = await sending

    const textFrames = flaky.sent.filter((frame) => frame.message_type === 'text')
    expect(textFrames).toHaveLength(2)
    expect(textFrames[1]).toEqual(textFrames[0])
    expect(sent.metadata.seq).toBe(1)
    expect((await history(alice, sessionId)).map((m) => m.content)).toEqual(['Is anyone there?'])
    expect(a.unacknowledged()).toBe(0)
  })

  it('keeps sends made while the server is down and sends them when it is back', async () => {
    const { s, alice, bob, sessionId } = await setUp()
    const a = s.client(alice, { socketForm })
    const b = s.client(bob, { socketForm })
    const bInbox = record(b, 'message')
    await Promise.all([a.join(sessionId), b.join(sessionId)])

    await s.stop()
    await until(() => !a.isLive(sessionId), 'the disconnect')
    const sending = [a.send(sessionId, { content: 'one' }), a.send(sessionId, { content: 'two' })]
    expect(a.unacknowledged(sessionId)).toBe(2)
    await s.start()
    const sent = await Promise.all(sending)
    await until(() => bInbox.length === 2, 'the messages')

    expect(seqs(sent)).toEqual([1, 2])
    expect(contents(bInbox)).toEqual(['one', 'two'])
    expect((await history(bob, sessionId)).map((m) => m.content)).toEqual(['one', 'two'])
  })

  it('rejects a send the server answers with an error frame, with its code', async () => {
    const { s, alice, sessionId } = await setUp()
    const a = s.client(alice, { socketForm })
    await a.join(sessionId)

    const tooLong = a.send(sessionId, { content: 'x'.repeat(4001) })
    const badUrl = a.sendFile(sessionId, {
      file_url: 'ftp://example.com/receipt.pdf',
      file_name: 'Receipt.pdf',
      file_type: 'application/pdf',
    })
    const fine = a.send(sessionId, { content: 'fine' })

    await expect(tooLong).rejects.toMatchObject({
      name: 'ChatSocketError',
      code: 'bad_request',
      chatSessionId: sessionId,
    })
    await expect(badUrl).rejects.toMatchObject({ code: 'invalid_file_url' })
    expect((await fine).metadata.seq).toBe(1)
    expect(a.unacknowledged()).toBe(0)
  })

  it('retries sends that were rate limited until each is stored once', async () => {
    const { s, alice, sessionId } = await setUp({
      MESSAGE_RATE_BURST: '2',
      MESSAGE_RATE_PER_SECOND: '20',
    })
    const flaky = flakyWebSocket()
    const a = s.client(alice, { socketForm, WebSocket: flaky.WebSocket })
    await a.join(sessionId)

    const sent = await Promise.all(range(1, 6).map((i) => a.send(sessionId, { content: `${i}` })))

    expect(seqs(sent).sort((x, y) => x - y)).toEqual(range(1, 6))
    expect(flaky.sent.filter((f) => f.message_type === 'text').length).toBeGreaterThan(6)
    expect((await history(alice, sessionId)).map((m) => m.content).sort()).toEqual(
      range(1, 6).map(String),
    )
  })

  it('reports a refusal (1008) once and does not reconnect', async () => {
    const { s, alice, sessionId } = await setUp()
    const flaky = flakyWebSocket()
    const a = s.client(alice, { socketForm, WebSocket: flaky.WebSocket, token: 'not-a-token' })
    const refusals = record(a, 'refused')

    const joining = a.join(sessionId, { lastSeq: 0 })
    const sending = a.send(sessionId, { content: 'hello?' })

    await expect(joining).rejects.toMatchObject({ code: 'refused', detail: 'invalid token' })
    await expect(sending).rejects.toMatchObject({ code: 'refused' })
    await new Promise((resolve) => setTimeout(resolve, 300))
    expect(refusals).toEqual([
      {
        chatSessionId: socketForm === 'per-session' ? sessionId : null,
        closeCode: 1008,
        reason: 'invalid token',
      },
    ])
    expect(flaky.urls).toHaveLength(1)
  })

  it('refuses a session the user does not take part in, without retrying', async () => {
    const { s, sessionId } = await setUp()
    const carol = await s.signUp('carol')
    const flaky = flakyWebSocket()
    const c = s.client(carol, { socketForm, WebSocket: flaky.WebSocket })
    const refusals = record(c, 'refused')

    await expect(c.join(sessionId, { lastSeq: 0 })).rejects.toMatchObject({ code: 'refused' })
    await new Promise((resolve) => setTimeout(resolve, 300))

    expect(refusals).toEqual([
      socketForm === 'per-session'
        ? { chatSessionId: sessionId, closeCode: 1008, reason: 'not a participant' }
        : { chatSessionId: sessionId, closeCode: null, reason: expect.any(String) },
    ])
    expect(flaky.urls).toHaveLength(1)
    expect(flaky.sent.filter((f) => f.message_type === 'subscribe')).toHaveLength(
      socketForm === 'per-session' ? 0 : 1,
    )
  })

  it('ends a closed session after its last message and does not reconnect to it', async () => {
    const { s, alice, bob, sessionId } = await setUp()
    const flaky = flakyWebSocket()
    const b = s.client(bob, { socketForm, WebSocket: flaky.WebSocket })
    const [bInbox, closed, states] = [
      record(b, 'message'),
      record(b, 'session_closed'),
      record(b, 'state'),
    ]
    await b.join(sessionId)

    await s.as(alice).send(sessionId, 'thanks, bye')
    await s.as(alice).post(`/api/v1/chat/sessions/${sessionId}/close`)
    await until(() => closed.length === 1, 'session_closed')
    await new Promise((resolve) => setTimeout(resolve, 200))

    expect(contents(bInbox)).toEqual(['thanks, bye'])
    expect(closed[0]).toMatchObject({ chat_session_id: sessionId, user_id: alice.id })
    expect(flaky.urls).toHaveLength(1)
    if (socketForm === 'per-session') expect(states.at(-1)?.state).toBe('closed')
    await expect(b.send(sessionId, { content: 'hello?' })).rejects.toMatchObject({
      code: 'not_joined',
    })
  })

  it('carries typing and presence', async () => {
    const { s, alice, bob, sessionId } = await setUp()
    const a = s.client(alice, { socketForm })
    const b = s.client(bob, { socketForm })
    const [typing, presence] = [record(b, 'typing'), record(b, 'presence')]
    await b.join(sessionId)
    await a.join(sessionId)

    for (let i = 0; i < 5; i++) a.typing(sessionId)
    await until(() => typing.length === 1, 'typing')
    a.stopTyping(sessionId)
    await until(() => typing.length === 2, 'the end of typing')
    a.leave(sessionId)
    await until(() => presence.length === 3, 'alice leaving')

    expect(typing.map((f) => [f.user_id, f.metadata.is_typing])).toEqual([
      [alice.id, true],
      [alice.id, false],
    ])
    expect(presence.map((f) => [f.message_type, f.user_id, f.metadata.total_users])).toEqual([
      ['user_joined', bob.id, 1],
      ['user_joined', alice.id, 2],
      ['user_left', alice.id, 1],
    ])
  })
})

describe('the multiplexed socket', () => {
  it('carries several sessions over one socket, each in its own seq order', async () => {
    const { s, alice, bob, sessionId } = await setUp()
    const second = await alice.createSession({ title: 'Wallet', participant_ids: [bob.id] })
    const flaky = flakyWebSocket()
    const b = s.client(bob, { socketForm: 'multiplexed', WebSocket: flaky.WebSocket })
    const bInbox = record(b, 'message')
    await Promise.all([b.join(sessionId), b.join(second.id)])

    for (const i of range(1, 3)) {
      await s.as(alice).send(sessionId, `first ${i}`)
      await s.as(alice).send(second.id, `second ${i}`)
    }
    await until(() => bInbox.length === 6, 'both sessions')

    const of = (id: string) => bInbox.filter((m) => m.chat_session_id === id)
    expect(seqs(of(sessionId))).toEqual([1, 2, 3])
    expect(seqs(of(second.id))).toEqual([1, 2, 3])
    expect(flaky.urls).toHaveLength(1)
  })
})

describe('the SDK', () => {
  it('rejects the join of a session the user may not read, with the REST error', async () => {
    const { s, sessionId } = await setUp()
    const carol = await s.signUp('carol')
    const c = s.client(carol)

    await expect(c.join(sessionId)).rejects.toMatchObject({
      name: 'ChatApiError',
      status: 403,
      code: 'forbidden',
    })
    expect(c.isLive(sessionId)).toBe(false)
  })

  it('rejects the pending sends of a session it leaves', async () => {
    const { s, alice, sessionId } = await setUp()
    const a = s.client(alice)
    await a.join(sessionId)
    await s.stop()
    await until(() => !a.isLive(sessionId), 'the disconnect')

    const sending = a.send(sessionId, { content: 'never mind' })
    a.leave(sessionId)

    await expect(sending).rejects.toMatchObject({ code: 'cancelled' })
    expect(a.unacknowledged()).toBe(0)
  })

  it('replaces a connection that stops answering pings, and resumes', async () => {
    const { s, alice, bob, sessionId } = await setUp()
    let isSilent = false
    // The first connection goes silent, as behind a dead network; the next one works.
    const flaky = flakyWebSocket((frame, connection) =>
      isSilent && connection === 0 ? [] : [frame],
    )
    const b = s.client(bob, { WebSocket: flaky.WebSocket, pingIntervalMs: 50 })
    const bInbox = record(b, 'message')
    await b.join(sessionId)

    isSilent = true
    await s.as(alice).send(sessionId, 'one')
    await until(() => bInbox.length === 1, 'the message over a new connection')
    await s.as(alice).send(sessionId, 'two')
    await until(() => bInbox.length === 2, 'a live message')

    expect(contents(bInbox)).toEqual(['one', 'two'])
    expect(flaky.urls).toHaveLength(2)
    expect(new URL(flaky.urls[1]!).searchParams.get('last_seq')).toBe('0')
  })
})

describe('the SDK without a WebSocket implementation', () => {
  it('says at once how to provide one', async () => {
    const { s, alice } = await setUp()

    expect(() => s.client(alice, { WebSocket: undefined })).toThrow(/WebSocket option/)
  })
})
