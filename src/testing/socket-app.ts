import type { AddressInfo } from 'node:net'
import type WebSocket from 'ws'
import { buildTestApp, type TestApp, type TestAppOptions, type TestClient } from './test-app.js'
import { TestSocket } from './test-socket.js'

export interface SocketTestApp extends TestApp {
  port: number
  /** Opens the per-session socket of the guide, as `client`, and waits until it is open. */
  connect(
    client: TestClient,
    sessionId: string,
    query?: Record<string, string>,
  ): Promise<TestSocket>
  /** Opens the multiplexed socket (`/api/v1/chat/ws`). */
  connectMany(client: TestClient): Promise<TestSocket>
  /** Any socket URL on this server, for refusal tests. */
  socket(path: string, options?: WebSocket.ClientOptions): TestSocket
}

/** A test app listening on a loopback port, with helpers to open sockets against it. */
export async function buildSocketTestApp(options: TestAppOptions = {}): Promise<SocketTestApp> {
  const t = await buildTestApp(options)
  await t.app.listen({ port: 0, host: '127.0.0.1' })
  const port = (t.app.server.address() as AddressInfo).port
  const socket = (path: string, wsOptions?: WebSocket.ClientOptions) =>
    new TestSocket(`ws://127.0.0.1:${port}${path}`, wsOptions)
  const open = async (path: string) => {
    const s = socket(path)
    await s.opened
    return s
  }
  return {
    ...t,
    port,
    socket,
    connect: (client, sessionId, query = {}) =>
      open(
        `/api/v1/chat/ws/${sessionId}?${new URLSearchParams({ token: client.token, ...query }).toString()}`,
      ),
    connectMany: (client) => open(`/api/v1/chat/ws?token=${client.token}`),
  }
}
