import type { AddressInfo } from 'node:net'
import WebSocket from 'ws'
import type { ServerFrame } from '../../src/realtime/protocol.js'
import {
  buildTestApp,
  createTestStore,
  TestClient,
  type TestApp,
  type TestStore,
} from '../../src/testing/test-app.js'
import type { Role } from '../../src/store/store.js'
import type { ChatClientOptions } from '../../sdk/chat-client.js'
import type { WebSocketConstructor, WebSocketLike } from '../../sdk/chat-socket.js'
import { ChatClient } from '../../sdk/index.js'

/** Short delays, so reconnects and retries happen within a test's patience. */
export const FAST_BACKOFF = { baseMs: 20, maxMs: 200 }

/**
 * The app listening on a loopback port for SDK clients, on a database that outlives it: `stop`
 * shuts the server down (its sockets get 1011 "server restarting"), `start` brings up a new one on
 * the same port and database, as a restarted process would be.
 */
export interface SdkTestApp {
  baseUrl: string
  port: number
  /** The app serving now. */
  readonly current: TestApp
  signUp(name: string, role?: Role): Promise<TestClient>
  /** `user` calling the app serving now through `inject()`. */
  as(user: TestClient): TestClient
  /** An SDK client signed in as `user`, closed by `close`. */
  client(user: TestClient, options?: Partial<ChatClientOptions>): ChatClient
  stop(): Promise<void>
  /** A new app on the same database; `beforeListen` runs while it is ready but not listening. */
  start(beforeListen?: (app: TestApp) => Promise<void>): Promise<void>
  close(): Promise<void>
}

export async function startSdkApp(env: Record<string, string> = {}): Promise<SdkTestApp> {
  const store: TestStore = await createTestStore()
  let current: TestApp | undefined = await buildTestApp({ store, env })
  await current.app.listen({ port: 0, host: '127.0.0.1' })
  const port = (current.app.server.address() as AddressInfo).port
  const baseUrl = `http://127.0.0.1:${port}`
  const clients: ChatClient[] = []
  const serving = () => {
    if (current === undefined) throw new Error('the server is stopped')
    return current
  }
  return {
    baseUrl,
    port,
    get current() {
      return serving()
    },
    signUp: (name, role) => serving().signUp(name, role),
    as: (user) => new TestClient(serving().app, user.user, user.token),
    client: (user, options = {}) => {
      const client = new ChatClient({
        baseUrl,
        token: user.token,
        WebSocket,
        backoff: FAST_BACKOFF,
        ...options,
      })
      clients.push(client)
      return client
    },
    stop: async () => {
      await current?.close()
      current = undefined
    },
    start: async (beforeListen) => {
      const next = await buildTestApp({ store, env })
      await beforeListen?.(next)
      await next.app.listen({ port, host: '127.0.0.1' })
      current = next
    },
    close: async () => {
      for (const client of clients) client.close()
      await current?.close()
      await store.drop()
    },
  }
}

/**
 * The `ws` package's WebSocket behind a hook: `intercept` decides what each incoming frame of
 * the n-th connection (from 0) becomes (drop it: `[]`, double it: `[frame, frame]`), `cut` kills
 * every connection as a
 * network failure would (1006), and every socket and frame sent is recorded.
 */
export function flakyWebSocket(
  intercept: (frame: ServerFrame, connection: number) => ServerFrame[] = (frame) => [frame],
) {
  const urls: string[] = []
  const sent: Array<Record<string, unknown>> = []
  const live = new Set<WebSocket>()

  class FlakyWebSocket implements WebSocketLike {
    onopen: WebSocketLike['onopen'] = null
    onmessage: WebSocketLike['onmessage'] = null
    onclose: WebSocketLike['onclose'] = null
    onerror: WebSocketLike['onerror'] = null
    readonly #ws: WebSocket

    constructor(url: string) {
      const connection = urls.push(url) - 1
      const ws = new WebSocket(url)
      this.#ws = ws
      live.add(ws)
      ws.onopen = (event) => this.onopen?.(event)
      ws.onerror = (event) => this.onerror?.(event)
      ws.onclose = (event) => {
        live.delete(ws)
        this.onclose?.(event)
      }
      ws.onmessage = (event) => {
        // The server sends text frames only, which ws hands over as strings.
        const frame = JSON.parse(event.data as string) as ServerFrame
        for (const passed of intercept(frame, connection)) {
          this.onmessage?.({ data: JSON.stringify(passed) })
        }
      }
    }

    get readyState(): number {
      return this.#ws.readyState
    }

    send(data: string): void {
      sent.push(JSON.parse(data) as Record<string, unknown>)
      this.#ws.send(data)
    }

    close(code?: number, reason?: string): void {
      this.#ws.close(code, reason)
    }
  }

  return {
    WebSocket: FlakyWebSocket satisfies WebSocketConstructor,
    /** Every URL a socket was opened with, in order. */
    urls,
    /** Every frame the SDK sent, parsed. */
    sent,
    cut: () => {
      for (const ws of live) ws.terminate()
    },
  }
}

/** Waits until `condition` holds, checking every 10 ms. */
export async function until(
  condition: () => boolean,
  what = 'the condition',
  timeoutMs = 5_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}
