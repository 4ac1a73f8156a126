import type { Static } from '@sinclair/typebox'
import type { LoginBody, RegisterBody, TokenResponse, User } from '../src/auth/auth.schemas.js'
import type {
  BlockedUser,
  CreateSessionBody,
  HistoryQuery,
  ListSessionsQuery,
  MarkReadResponse,
  Message,
  MessageBody,
  Participant,
  PatchSessionBody,
  Session,
  WsStats,
} from '../src/chat/chat.schemas.js'
import type { ErrorBody, SuccessBody } from '../src/http/schemas.js'
import { ChatApiError } from './errors.js'

export type RegisterRequest = Static<typeof RegisterBody>
export type LoginRequest = Static<typeof LoginBody>
export type TokenReply = Static<typeof TokenResponse>
export type SuccessReply = Static<typeof SuccessBody>
export type MarkReadReply = Static<typeof MarkReadResponse>
export type BlockedUserView = Static<typeof BlockedUser>
/** A page of history: `limit` (1–100, default 50) and at most one of `offset`, `before`, `after`. */
export type HistoryRequest = Partial<HistoryQuery>
export type ListSessionsRequest = Partial<ListSessionsQuery>

/** The largest page the server serves. */
export const MAX_PAGE = 100

export interface RestClientOptions {
  /** The server's origin, e.g. `https://api.swipesavvy.app` or `http://localhost:8000`. */
  baseUrl: string
  /** A bearer token from an earlier `login`, if the app kept one. */
  token?: string | undefined
  /** Default: the global `fetch` (browsers, React Native, Node 18+). */
  fetch?: typeof fetch
}

/**
 * The REST API of CONTRACT.md, typed with the server's own route schemas. Every call resolves
 * with the documented body or rejects with a `ChatApiError` carrying the status and the server's
 * `{detail, code}`; nothing is retried here (the socket client retries what is safe to retry).
 */
export class RestClient {
  readonly #baseUrl: string
  readonly #fetch: typeof fetch
  #token: string | undefined

  constructor(options: RestClientOptions) {
    this.#baseUrl = options.baseUrl.replace(/\/+$/, '')
    this.#fetch = options.fetch ?? globalThis.fetch.bind(globalThis)
    this.#token = options.token
  }

  /** The bearer token sent with every call and used by the socket; set by `login`. */
  get token(): string | undefined {
    return this.#token
  }

  setToken(token: string | undefined): void {
    this.#token = token
  }

  /** The WebSocket URL (`ws:` or `wss:`) of a socket path on the same server. */
  socketUrl(path: string, query: Record<string, string | number | undefined> = {}): string {
    const url = new URL(`${this.#baseUrl}${path}`)
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:'
    for (const [key, value] of Object.entries(query)) {
      if (value !== undefined) url.searchParams.set(key, String(value))
    }
    return url.toString()
  }

  /** Creates a customer account (role `user`). 409 `conflict` if the email is taken. */
  register(body: RegisterRequest): Promise<User> {
    return this.#request('POST', '/api/v1/auth/register', { body, isPublic: true })
  }

  /** Exchanges email and password for a token, and keeps the token for every later call. */
  async login(body: LoginRequest): Promise<TokenReply> {
    const reply = await this.#request<TokenReply>('POST', '/api/v1/auth/login', {
      body,
      isPublic: true,
    })
    this.#token = reply.access_token
    return reply
  }

  me(): Promise<User> {
    return this.#request('GET', '/api/v1/auth/me')
  }

  /** Starts a session; the caller becomes a participant (and `assigned_agent_id`, if given). */
  createSession(body: CreateSessionBody): Promise<Session> {
    return this.#request('POST', '/api/v1/chat/sessions', { body })
  }

  /** Sessions the caller takes part in (admins: all), the newest activity first. */
  listSessions(query: ListSessionsRequest = {}): Promise<Session[]> {
    return this.#request('GET', '/api/v1/chat/sessions', { query })
  }

  getSession(sessionId: string): Promise<Session> {
    return this.#request('GET', sessionPath(sessionId))
  }

  /** Renames or (re)assigns a session (its agent, or an admin). */
  updateSession(sessionId: string, body: PatchSessionBody): Promise<Session> {
    return this.#request('PATCH', sessionPath(sessionId), { body })
  }

  /** Closes the session (idempotent); every socket of it gets `session_closed`. */
  closeSession(sessionId: string): Promise<SuccessReply> {
    return this.#request('POST', sessionPath(sessionId, '/close'))
  }

  /** Moves the caller's read mark to `upToMessageId` (default: the newest message); never back. */
  markRead(sessionId: string, upToMessageId?: string): Promise<MarkReadReply> {
    return this.#request('POST', sessionPath(sessionId, '/mark-read'), {
      body: { up_to_message_id: upToMessageId ?? null },
    })
  }

  participants(sessionId: string): Promise<Participant[]> {
    return this.#request('GET', sessionPath(sessionId, '/participants'))
  }

  /** Adds a participant (adding twice is fine); an agent adding themself claims the session. */
  addParticipant(sessionId: string, userId: string): Promise<Participant> {
    return this.#request('POST', sessionPath(sessionId, '/participants'), {
      body: { user_id: userId },
    })
  }

  /** Nothing the blocked user sends reaches the caller any more, live or in history. */
  block(userId: string, reason?: string): Promise<SuccessReply> {
    return this.#request('POST', '/api/v1/chat/block', {
      body: { user_id: userId, reason: reason ?? null },
    })
  }

  unblock(userId: string): Promise<SuccessReply> {
    return this.#request('POST', '/api/v1/chat/unblock', { body: { user_id: userId } })
  }

  listBlocked(): Promise<BlockedUserView[]> {
    return this.#request('GET', '/api/v1/chat/block')
  }

  /**
   * Sends a message without a socket; it is broadcast like a socket send. With a
   * `client_message_id`, a repeat returns the stored message instead of storing it again.
   */
  sendMessage(sessionId: string, body: MessageBody): Promise<Message> {
    return this.#request('POST', sessionPath(sessionId, '/messages'), { body })
  }

  /**
   * One page of history as the guide pages it: newest first, `offset` counting back from the
   * newest (`before=` pages newest first too; `after=` is oldest first). Messages from users the
   * caller blocks are left out, so `seq` may skip.
   */
  history(sessionId: string, query: HistoryRequest = {}): Promise<Message[]> {
    return this.#request('GET', sessionPath(sessionId, '/messages'), { query })
  }

  /**
   * Pages backwards through the whole history, newest first, following the `before=` cursor (from
   * `before`, if given, else from the newest message): pages neither overlap nor skip, however
   * many messages arrive meanwhile. Ends after the oldest message.
   */
  async *historyPages(
    sessionId: string,
    options: { limit?: number; before?: string } = {},
  ): AsyncGenerator<Message[], void, undefined> {
    const limit = options.limit ?? 50
    let before = options.before
    for (;;) {
      const page = await this.history(
        sessionId,
        before === undefined ? { limit } : { limit, before },
      )
      const oldest = page.at(-1)
      if (oldest === undefined) return
      yield page
      if (page.length < limit) return
      before = oldest.id
    }
  }

  /**
   * Every message after `afterMessageId` that the caller may see, oldest first, following the
   * `after=` cursor page by page up to the newest: what a client that was away has missed.
   */
  async catchUp(
    sessionId: string,
    afterMessageId: string,
    options: { limit?: number } = {},
  ): Promise<Message[]> {
    const limit = options.limit ?? MAX_PAGE
    const missed: Message[] = []
    let after = afterMessageId
    for (;;) {
      const page = await this.history(sessionId, { limit, after })
      missed.push(...page)
      const newest = page.at(-1)
      if (newest === undefined || page.length < limit) return missed
      after = newest.id
    }
  }

  /** Live socket counts over every node (agents and admins). */
  wsStats(): Promise<WsStats> {
    return this.#request('GET', '/api/v1/chat/ws-stats')
  }

  async #request<T>(
    method: 'GET' | 'POST' | 'PATCH',
    path: string,
    options: { body?: unknown; query?: object; isPublic?: boolean } = {},
  ): Promise<T> {
    const url = new URL(`${this.#baseUrl}${path}`)
    for (const [key, value] of Object.entries(options.query ?? {})) {
      if (value !== undefined && value !== null) url.searchParams.set(key, String(value))
    }
    const headers: Record<string, string> = {}
    if (options.body !== undefined) headers['content-type'] = 'application/json'
    if (options.isPublic !== true && this.#token !== undefined) {
      headers.authorization = `Bearer ${this.#token}`
    }
    let response: Response
    try {
      response = await this.#fetch(url, {
        method,
        headers,
        ...(options.body !== undefined && { body: JSON.stringify(options.body) }),
      })
    } catch (error) {
      throw new ChatApiError(0, 'network_error', `${method} ${path} could not reach the server.`, {
        cause: error,
      })
    }
    const text = await response.text()
    const body = parseJson(text)
    if (response.ok) {
      if (body === undefined) {
        throw new ChatApiError(response.status, 'bad_response', `${method} ${path}: not JSON.`)
      }
      return body as T
    }
    const error = isErrorBody(body)
      ? body
      : { code: 'bad_response', detail: `${method} ${path} answered ${response.status}.` }
    const retryAfter = Number(response.headers.get('retry-after') ?? Number.NaN)
    throw new ChatApiError(response.status, error.code, error.detail, {
      retryAfterSeconds: Number.isFinite(retryAfter) ? retryAfter : undefined,
    })
  }
}

function sessionPath(sessionId: string, rest = ''): string {
  return `/api/v1/chat/sessions/${encodeURIComponent(sessionId)}${rest}`
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown
  } catch {
    return undefined
  }
}

function isErrorBody(body: unknown): body is Static<typeof ErrorBody> {
  return (
    typeof body === 'object' &&
    body !== null &&
    typeof (body as { code?: unknown }).code === 'string' &&
    typeof (body as { detail?: unknown }).detail === 'string'
  )
}
