import type { AddressInfo } from 'node:net'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import type { Message } from '../src/chat/chat.schemas.js'
import type { MessageFrame, ServerFrame } from '../src/realtime/protocol.js'
import { buildTestApp, type TestApp } from '../src/testing/test-app.js'

/**
 * The guide's React and React Native / Expo examples, driven at the protocol level: each class
 * below is the example's hook or component with React taken out (state is a field, `setX(prev =>
 * …)` an assignment) and `ws` as the socket, as a script would. The frames they send are the
 * guide's, character for character; the frames they get are kept raw, so the assertions see the
 * exact wire shapes.
 */

const WAIT = { timeout: 5_000, interval: 20 }

/** The envelope the guide shows for a `message` frame, and no other top-level field. */
const MESSAGE_FIELDS = [
  'chat_session_id',
  'content',
  'message_type',
  'metadata',
  'timestamp',
  'user_id',
]

/** A socket opened the guide's way, keeping every frame it receives and how it came. */
class GuideSocket {
  readonly frames: ServerFrame[] = []
  /** `text` or `binary`, per frame: the guide's `JSON.parse(event.data)` needs text. */
  readonly frameKinds: Array<'text' | 'binary'> = []
  readonly ws: WebSocket
  readonly opened: Promise<void>
  readonly closed: Promise<void>

  constructor(url: string, onFrame: (message: ServerFrame) => void) {
    this.ws = new WebSocket(url)
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve())
      this.ws.once('error', reject)
    })
    this.closed = new Promise((resolve) => this.ws.once('close', () => resolve()))
    this.ws.onmessage = (event) => {
      this.frameKinds.push(typeof event.data === 'string' ? 'text' : 'binary')
      const message = JSON.parse(textOf(event.data)) as ServerFrame
      this.frames.push(message)
      onFrame(message)
    }
  }

  of<T extends ServerFrame['message_type']>(
    type: T,
  ): Array<Extract<ServerFrame, { message_type: T }>> {
    return this.frames.filter((f) => f.message_type === type) as Array<
      Extract<ServerFrame, { message_type: T }>
    >
  }
}

/** The React example's `ChatComponent`: one socket per session, as its `useEffect` opens it. */
class ReactChat {
  messages: MessageFrame[] = []
  connectedUsers = 0
  readonly socket: GuideSocket

  constructor(base: string, sessionId: string, token: string) {
    this.socket = new GuideSocket(
      `${base}/api/v1/chat/ws/${sessionId}?token=${token}`,
      (message) => {
        if (message.message_type === 'message') {
          this.messages = [...this.messages, message]
        } else if (message.message_type === 'user_joined') {
          this.connectedUsers = message.metadata.total_users
        } else if (message.message_type === 'user_left') {
          this.connectedUsers = message.metadata.total_users
        }
      },
    )
  }

  handleSendMessage(text: string): void {
    this.socket.ws.send(
      JSON.stringify({
        message_type: 'text',
        content: text,
      }),
    )
  }

  handleTyping(isTyping: boolean): void {
    this.socket.ws.send(
      JSON.stringify({
        message_type: 'typing',
        content: isTyping ? 'true' : 'false',
      }),
    )
  }

  /** The `<input onChange>`: one typing frame per keystroke, for the value after it. */
  onInputChange(value: string): void {
    this.handleTyping(value.length > 0)
  }

  /** The `key` each rendered message gets. */
  get renderedKeys(): string[] {
    return this.messages.map((msg) => msg.metadata.message_id)
  }

  /** The effect's clean-up. */
  unmount(): Promise<void> {
    this.socket.ws.close()
    return this.socket.closed
  }
}

/** The Expo example's `useChatWebSocket(sessionId)`. */
class ExpoChat {
  messages: MessageFrame[] = []
  isConnected = false
  users: Array<{ id: string | null }> = []
  readonly socket: GuideSocket

  constructor(
    base: string,
    sessionId: string,
    token: string,
    readonly uploadFile: (fileUri: string) => string,
  ) {
    this.socket = new GuideSocket(
      `${base}/api/v1/chat/ws/${sessionId}?token=${token}`,
      (message) => {
        if (message.message_type === 'message') {
          this.messages = [...this.messages, message]
        } else if (message.message_type === 'user_joined') {
          this.users = [...this.users, { id: message.user_id }]
        }
      },
    )
    this.socket.ws.onopen = () => (this.isConnected = true)
    this.socket.ws.onclose = () => (this.isConnected = false)
  }

  sendMessage(content: string): void {
    this.socket.ws.send(
      JSON.stringify({
        message_type: 'text',
        content,
      }),
    )
  }

  sendFile(fileUri: string, fileName: string, fileType: string): void {
    const fileUrl = this.uploadFile(fileUri)

    this.socket.ws.send(
      JSON.stringify({
        message_type: 'file',
        content: fileName,
        file_url: fileUrl,
        file_name: fileName,
        file_type: fileType,
      }),
    )
  }
}

function textOf(data: WebSocket.Data): string {
  if (typeof data === 'string') return data
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8')
  if (data instanceof ArrayBuffer) return Buffer.from(data).toString('utf8')
  return data.toString('utf8')
}

describe("the guide's React and Expo clients", () => {
  let t: TestApp
  let base: string
  const sockets: GuideSocket[] = []

  beforeEach(async () => {
    t = await buildTestApp()
    await t.app.listen({ port: 0, host: '127.0.0.1' })
    base = `ws://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`
  })

  afterEach(async () => {
    for (const socket of sockets.splice(0)) socket.ws.terminate()
    await t.close()
  })

  async function supportChat() {
    const ana = await t.signUp('ana')
    const sam = await t.signUp('sam', 'agent')
    const session = await ana.createSession({ title: 'Support Chat', assigned_agent_id: sam.id })
    return { ana, sam, session }
  }

  function track<C extends { socket: GuideSocket }>(client: C): C {
    sockets.push(client.socket)
    return client
  }

  it('keeps the React state: users from user_joined and user_left, messages keyed by message_id', async () => {
    const { ana, sam, session } = await supportChat()
    const anaChat = track(new ReactChat(base, session.id, ana.token))
    await expect.poll(() => anaChat.connectedUsers, WAIT).toBe(1)
    const samChat = track(new ReactChat(base, session.id, sam.token))
    await expect.poll(() => anaChat.connectedUsers, WAIT).toBe(2)

    samChat.handleSendMessage('Hi ana, I can help with that')
    await expect.poll(() => anaChat.messages.length, WAIT).toBe(1)
    anaChat.handleSendMessage('My card was declined')
    await expect.poll(() => samChat.messages.length, WAIT).toBe(2)
    await expect.poll(() => anaChat.messages.length, WAIT).toBe(2)
    await samChat.unmount()
    await expect.poll(() => anaChat.connectedUsers, WAIT).toBe(1)

    const history = (await ana.get(`/api/v1/chat/sessions/${session.id}/messages`)).json<
      Message[]
    >()
    const stored = [...history].sort((a, b) => a.seq - b.seq)
    expect(samChat.connectedUsers).toBe(2)
    expect(anaChat.renderedKeys).toEqual(stored.map((message) => message.id))
    expect(samChat.renderedKeys).toEqual(anaChat.renderedKeys)
    const [first, second] = anaChat.messages
    expect(Object.keys(first!).sort()).toEqual(MESSAGE_FIELDS)
    expect(first).toMatchObject({
      message_type: 'message',
      chat_session_id: session.id,
      user_id: sam.id,
      content: 'Hi ana, I can help with that',
      metadata: { message_id: stored[0]!.id, reply_to_id: null, mentions: null },
    })
    expect(second).toMatchObject({
      user_id: ana.id,
      content: 'My card was declined',
      metadata: { message_id: stored[1]!.id },
    })
    expect(Number.isNaN(Date.parse(first!.timestamp))).toBe(false)
    expect(anaChat.socket.of('user_joined')).toEqual([
      {
        message_type: 'user_joined',
        chat_session_id: session.id,
        user_id: ana.id,
        timestamp: expect.any(String),
        metadata: { total_users: 1 },
      },
      {
        message_type: 'user_joined',
        chat_session_id: session.id,
        user_id: sam.id,
        timestamp: expect.any(String),
        metadata: { total_users: 2 },
      },
    ])
    expect(anaChat.socket.of('user_left')).toEqual([
      {
        message_type: 'user_left',
        chat_session_id: session.id,
        user_id: sam.id,
        timestamp: expect.any(String),
        metadata: { total_users: 1 },
      },
    ])
  })

  it('broadcasts only the changes of per-keystroke typing frames, to the other participant', async () => {
    const { ana, sam, session } = await supportChat()
    const anaChat = track(new ReactChat(base, session.id, ana.token))
    const samChat = track(new ReactChat(base, session.id, sam.token))
    await expect.poll(() => anaChat.connectedUsers, WAIT).toBe(2)

    for (const value of ['c', 'ca', 'car', 'card', 'car', 'ca', 'c', ''])
      anaChat.onInputChange(value)
    await expect.poll(() => samChat.socket.of('typing_indicator').length, WAIT).toBe(2)
    anaChat.socket.ws.send(JSON.stringify({ message_type: 'ping' }))
    await expect.poll(() => anaChat.socket.of('pong').length, WAIT).toBe(1)

    const indicator = (isTyping: boolean) => ({
      message_type: 'typing_indicator',
      chat_session_id: session.id,
      user_id: ana.id,
      timestamp: expect.any(String),
      metadata: { is_typing: isTyping },
    })
    expect(samChat.socket.of('typing_indicator')).toEqual([indicator(true), indicator(false)])
    expect(anaChat.socket.of('typing_indicator')).toEqual([])
    expect(anaChat.socket.of('error')).toEqual([])
  })

  it("stores and broadcasts the Expo example's sendFile frame, which has no file_size", async () => {
    const { ana, sam, session } = await supportChat()
    const uploadFile = (fileUri: string) =>
      `https://files.example.com/uploads/${fileUri.split('/').pop()}`
    const anaChat = track(new ExpoChat(base, session.id, ana.token, uploadFile))
    await expect.poll(() => anaChat.users.length, WAIT).toBe(1)
    const samChat = track(new ExpoChat(base, session.id, sam.token, uploadFile))
    await expect.poll(() => anaChat.users.length, WAIT).toBe(2)

    anaChat.sendFile('file:///data/user/0/app/cache/Receipt.pdf', 'Receipt.pdf', 'application/pdf')
    await expect.poll(() => samChat.messages.length, WAIT).toBe(1)
    await expect.poll(() => anaChat.messages.length, WAIT).toBe(1)

    const history = (await ana.get(`/api/v1/chat/sessions/${session.id}/messages`)).json<
      Message[]
    >()
    const file = {
      file_url: 'https://files.example.com/uploads/Receipt.pdf',
      file_name: 'Receipt.pdf',
      file_type: 'application/pdf',
      file_size: null,
    }
    expect(anaChat.isConnected).toBe(true)
    expect(anaChat.users).toEqual([{ id: ana.id }, { id: sam.id }])
    expect(history).toHaveLength(1)
    expect(history[0]).toMatchObject({
      chat_session_id: session.id,
      sender_id: ana.id,
      message_type: 'file',
      content: 'Receipt.pdf',
      ...file,
    })
    const [received] = samChat.messages
    expect(Object.keys(received!).sort()).toEqual(MESSAGE_FIELDS)
    expect(received).toMatchObject({
      message_type: 'message',
      chat_session_id: session.id,
      user_id: ana.id,
      content: 'Receipt.pdf',
      metadata: { message_id: history[0]!.id, kind: 'file', ...file },
    })
    expect(anaChat.messages).toEqual(samChat.messages)
  })

  it("sends every frame as text, which the guide's JSON.parse(event.data) needs", async () => {
    const { ana, sam, session } = await supportChat()
    const anaChat = track(new ExpoChat(base, session.id, ana.token, (uri) => uri))
    await expect.poll(() => anaChat.users.length, WAIT).toBe(1)
    const samChat = track(new ExpoChat(base, session.id, sam.token, (uri) => uri))
    await expect.poll(() => anaChat.users.length, WAIT).toBe(2)

    samChat.sendMessage('Hello')
    await expect.poll(() => anaChat.messages.length, WAIT).toBe(1)

    // Browsers hand a binary frame to onmessage as a Blob and React Native as an ArrayBuffer;
    // JSON.parse of either throws, so every frame the guide's clients parse must be text.
    expect(anaChat.socket.frameKinds).toEqual(anaChat.socket.frames.map(() => 'text'))
  })
})
