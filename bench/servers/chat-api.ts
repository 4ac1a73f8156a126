import http from 'node:http'

/**
 * The few REST calls the bench makes to our server, over one keep-alive agent. Plain `node:http`
 * rather than `fetch`: the history workload times single requests, and the less the client adds
 * per request, the more of the figure is the server's.
 */
export class ChatApi {
  readonly #agent = new http.Agent({ keepAlive: true, maxSockets: 64 })

  constructor(readonly baseUrl: string) {}

  async register(email: string, password: string): Promise<{ id: string }> {
    return this.#json('POST', '/api/v1/auth/register', { email, password }, undefined, 201)
  }

  async login(email: string, password: string): Promise<string> {
    const body = await this.#json<{ access_token: string }>('POST', '/api/v1/auth/login', {
      email,
      password,
    })
    return body.access_token
  }

  async createSession(token: string, title: string, participantIds: string[]): Promise<string> {
    const body = await this.#json<{ id: string }>(
      'POST',
      '/api/v1/chat/sessions',
      { title, participant_ids: participantIds },
      token,
      201,
    )
    return body.id
  }

  /** `GET …/messages?<query>`; resolves with the number of messages on the page. */
  async historyPage(token: string, sessionId: string, query: string): Promise<number> {
    const page = await this.#json<unknown[]>(
      'GET',
      `/api/v1/chat/sessions/${sessionId}/messages?${query}`,
      undefined,
      token,
    )
    return page.length
  }

  close(): void {
    this.#agent.destroy()
  }

  #json<T>(
    method: string,
    path: string,
    body: unknown,
    token?: string,
    expectedStatus = 200,
  ): Promise<T> {
    const payload = body === undefined ? undefined : JSON.stringify(body)
    const headers: http.OutgoingHttpHeaders = {}
    if (payload !== undefined) {
      headers['content-type'] = 'application/json'
      headers['content-length'] = Buffer.byteLength(payload)
    }
    if (token !== undefined) headers.authorization = `Bearer ${token}`
    return new Promise((resolve, reject) => {
      const request = http.request(
        new URL(path, this.baseUrl),
        { method, headers, agent: this.#agent },
        (response) => {
          const chunks: Buffer[] = []
          response.on('data', (chunk: Buffer) => chunks.push(chunk))
          response.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8')
            if (response.statusCode !== expectedStatus) {
              reject(new Error(`${method} ${path} answered ${response.statusCode}: ${text}`))
            } else {
              resolve(JSON.parse(text) as T)
            }
          })
          response.on('error', reject)
        },
      )
      request.on('error', reject)
      request.end(payload)
    })
  }
}

/** Runs `task` over `items` with at most `limit` in flight; results keep the items' order. */
export async function mapConcurrent<T, R>(
  items: readonly T[],
  limit: number,
  task: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length)
  let next = 0
  const lane = async () => {
    while (next < items.length) {
      const index = next++
      results[index] = await task(items[index]!, index)
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane))
  return results
}
