import WebSocket from 'ws'
import { expect } from 'vitest'
import {
  ChatClient,
  RestClient,
  type ChatSocketError,
  type Message,
  type MessageFrame,
  type SocketForm,
} from '../../sdk/index.js'
import { until } from './sdk-app.js'
import { uniqueName } from './node-cluster.js'

export interface Participant {
  rest: RestClient
  id: string
}

/** A customer made through the server's own API. */
export async function register(baseUrl: string, name: string): Promise<Participant> {
  const rest = new RestClient({ baseUrl })
  const credentials = { email: `${uniqueName(name)}@example.com`, password: 'password123' }
  const user = await rest.register({ ...credentials, full_name: name })
  await rest.login(credentials)
  return { rest, id: user.id }
}

/**
 * SDK clients in one session, each sending a message every `everyMs` while running, recording what
 * the server acknowledged and what each client received. `finish` stops sending, waits for every
 * send to be acknowledged and every client to catch up, then checks the promise the service makes:
 * every acknowledged message is stored exactly once, and every client saw 1..n in order, once.
 */
export class Traffic {
  readonly acknowledged: MessageFrame[] = []
  readonly rejected: ChatSocketError[] = []
  readonly received: MessageFrame[][] = []
  readonly clients: ChatClient[] = []
  #isSending = false
  #loops: Array<Promise<void>> = []

  constructor(
    readonly sessionId: string,
    readonly reader: RestClient,
  ) {}

  /** One client per participant, each on its own base URL and socket form. */
  async join(
    participants: Array<{ who: Participant; baseUrl: string; form: SocketForm }>,
  ): Promise<void> {
    for (const { who, baseUrl, form } of participants) {
      const client = new ChatClient({
        baseUrl,
        token: who.rest.token,
        WebSocket,
        socketForm: form,
        backoff: { baseMs: 50, maxMs: 500 },
        pingIntervalMs: 2_000,
      })
      const inbox: MessageFrame[] = []
      client.on('message', (message) => inbox.push(message))
      this.clients.push(client)
      this.received.push(inbox)
    }
    await Promise.all(this.clients.map((client) => client.join(this.sessionId)))
  }

  start(everyMs = 20): void {
    this.#isSending = true
    this.#loops = this.clients.map(async (client, i) => {
      for (let n = 1; this.#isSending; n++) {
        client.send(this.sessionId, { content: `${i}:${n}` }).then(
          (message) => this.acknowledged.push(message),
          (error: ChatSocketError) => this.rejected.push(error),
        )
        await new Promise((resolve) => setTimeout(resolve, everyMs))
      }
    })
  }

  /** Waits until `count` more sends than now have been acknowledged. */
  async moreAcknowledged(count: number, timeoutMs = 15_000): Promise<void> {
    const target = this.acknowledged.length + count
    await until(
      () => this.acknowledged.length >= target,
      `${count} more acknowledged sends`,
      timeoutMs,
    )
  }

  /** Stops sending, waits for quiescence, and checks everything. Returns the stored history. */
  async finish(timeoutMs = 20_000): Promise<Message[]> {
    this.#isSending = false
    await Promise.all(this.#loops)
    await until(
      () => this.clients.every((c) => c.unacknowledged() === 0),
      'every send acknowledged',
      timeoutMs,
    )
    const total = (await this.reader.getSession(this.sessionId)).total_messages
    await until(
      () => this.received.every((inbox) => inbox.length >= total),
      'every client caught up',
      timeoutMs,
    )

    const history: Message[] = []
    for await (const page of this.reader.historyPages(this.sessionId, { limit: 100 })) {
      history.unshift(...page.reverse())
    }
    const times = new Map<string | null, number>()
    for (const message of history)
      times.set(message.client_message_id, (times.get(message.client_message_id) ?? 0) + 1)

    const oneTo = Array.from({ length: total }, (_, i) => i + 1)
    expect(this.rejected).toEqual([])
    expect(history.map((m) => m.seq)).toEqual(oneTo)
    expect(this.acknowledged).toHaveLength(total)
    for (const message of this.acknowledged)
      expect(times.get(message.metadata.client_message_id)).toBe(1)
    for (const inbox of this.received) {
      expect(inbox.map((m) => m.metadata.seq)).toEqual(oneTo)
      expect(inbox.map((m) => m.metadata.message_id)).toEqual(history.map((m) => m.id))
    }
    return history
  }

  close(): void {
    this.#isSending = false
    for (const client of this.clients) client.close()
  }
}
