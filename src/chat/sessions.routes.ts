import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import type { AuthService } from '../auth/auth.service.js'
import { requireRole, requireUser } from '../http/authenticate.js'
import { SuccessBody, errorResponses, iso } from '../http/schemas.js'
import type { BlocksService } from './blocks.service.js'
import {
  AddParticipantBody,
  BlockBody,
  BlockedUser,
  CreateSessionBody,
  HistoryQuery,
  ListSessionsQuery,
  MarkReadBody,
  MarkReadResponse,
  Message,
  MessageBody,
  Participant,
  PatchSessionBody,
  Session,
  SessionId,
  UnblockBody,
  WsStats,
} from './chat.schemas.js'
import type { MessagesService } from './messages.service.js'
import type { PresenceView } from './presence.js'
import type { SessionsService } from './sessions.service.js'

export interface ChatRoutesDeps {
  auth: AuthService
  sessions: SessionsService
  messages: MessagesService
  blocks: BlocksService
  presence: PresenceView
}

/** The guide's REST chat API under `/api/v1/chat`. Every route needs a bearer token. */
export function chatRoutes(deps: ChatRoutesDeps): FastifyPluginAsyncTypebox {
  const { sessions, messages, blocks, presence } = deps
  return async (app) => {
    app.addHook('onRequest', requireUser(deps.auth))
    // POST bodies that are entirely optional may be left out, as the guide's curl examples do.
    app.addHook('preValidation', async (request) => {
      if (request.method === 'POST' && request.body == null) request.body = {}
    })
    const tags = ['chat']
    const security = [{ bearer: [] }]

    app.post(
      '/sessions',
      {
        schema: {
          tags,
          security,
          summary: 'Start a chat session',
          body: CreateSessionBody,
          response: { 201: Session, ...errorResponses },
        },
      },
      async (request, reply) =>
        reply.status(201).send(await sessions.create(request.user, request.body)),
    )

    app.get(
      '/sessions',
      {
        schema: {
          tags,
          security,
          summary: 'Sessions the caller takes part in (admins: all), newest activity first',
          querystring: ListSessionsQuery,
          response: { 200: Type.Array(Session), ...errorResponses },
        },
      },
      (request) => sessions.list(request.user, request.query),
    )

    app.get(
      '/sessions/:session_id',
      {
        schema: {
          tags,
          security,
          summary: 'One session',
          params: SessionId,
          response: { 200: Session, ...errorResponses },
        },
      },
      (request) => sessions.get(request.user, request.params.session_id),
    )

    app.patch(
      '/sessions/:session_id',
      {
        schema: {
          tags,
          security,
          summary: 'Rename or (re)assign a session (its agent, or an admin)',
          params: SessionId,
          body: PatchSessionBody,
          response: { 200: Session, ...errorResponses },
        },
      },
      (request) => sessions.update(request.user, request.params.session_id, request.body),
    )

    app.post(
      '/sessions/:session_id/close',
      {
        schema: {
          tags,
          security,
          summary: 'Close a session (idempotent)',
          params: SessionId,
          response: { 200: SuccessBody, ...errorResponses },
        },
      },
      async (request) => {
        await sessions.close(request.user, request.params.session_id)
        return { success: true, message: 'Session closed' }
      },
    )

    app.post(
      '/sessions/:session_id/mark-read',
      {
        schema: {
          tags,
          security,
          summary: 'Move the read mark (default: to the newest message)',
          params: SessionId,
          body: MarkReadBody,
          response: { 200: MarkReadResponse, ...errorResponses },
        },
      },
      async (request) => {
        const { at } = await messages.markRead(
          request.user,
          request.params.session_id,
          request.body.up_to_message_id,
        )
        return { success: true, message: 'Messages marked as read', timestamp: iso(at) }
      },
    )

    app.get(
      '/sessions/:session_id/messages',
      {
        schema: {
          tags,
          security,
          summary: 'Message history: newest first by offset or before=, oldest first by after=',
          params: SessionId,
          querystring: HistoryQuery,
          response: { 200: Type.Array(Message), ...errorResponses },
        },
      },
      (request) => messages.history(request.user, request.params.session_id, request.query),
    )

    app.post(
      '/sessions/:session_id/messages',
      {
        schema: {
          tags,
          security,
          summary: 'Send a message without a socket (broadcast like a socket send)',
          params: SessionId,
          body: MessageBody,
          response: { 200: Message, 201: Message, ...errorResponses },
        },
      },
      async (request, reply) => {
        const sessionId = request.params.session_id
        const { message, duplicate } = await messages.post(request.user, sessionId, request.body)
        return reply.status(duplicate ? 200 : 201).send(await messages.view(sessionId, message))
      },
    )

    app.get(
      '/sessions/:session_id/participants',
      {
        schema: {
          tags,
          security,
          summary: 'Who takes part, and who is online',
          params: SessionId,
          response: { 200: Type.Array(Participant), ...errorResponses },
        },
      },
      (request) => sessions.participants(request.user, request.params.session_id),
    )

    app.post(
      '/sessions/:session_id/participants',
      {
        schema: {
          tags,
          security,
          summary: 'Add a participant; an agent adding themself claims an unassigned session',
          params: SessionId,
          body: AddParticipantBody,
          response: { 200: Participant, 201: Participant, ...errorResponses },
        },
      },
      async (request, reply) => {
        const { participant, added } = await sessions.addParticipant(
          request.user,
          request.params.session_id,
          request.body.user_id,
        )
        return reply.status(added ? 201 : 200).send(participant)
      },
    )

    app.post(
      '/block',
      {
        schema: {
          tags,
          security,
          summary: 'Block a user (idempotent)',
          body: BlockBody,
          response: { 200: SuccessBody, ...errorResponses },
        },
      },
      async (request) => {
        await blocks.block(request.user, request.body.user_id, request.body.reason)
        return { success: true, message: 'User blocked' }
      },
    )

    app.get(
      '/block',
      {
        schema: {
          tags,
          security,
          summary: 'The users the caller blocks',
          response: { 200: Type.Array(BlockedUser), ...errorResponses },
        },
      },
      (request) => blocks.list(request.user),
    )

    app.post(
      '/unblock',
      {
        schema: {
          tags,
          security,
          summary: 'Unblock a user (idempotent)',
          body: UnblockBody,
          response: { 200: SuccessBody, ...errorResponses },
        },
      },
      async (request) => {
        await blocks.unblock(request.user, request.body.user_id)
        return { success: true, message: 'User unblocked' }
      },
    )

    app.get(
      '/ws-stats',
      {
        onRequest: requireRole('agent', 'admin'),
        schema: {
          tags,
          security,
          summary: 'Live socket counts over every node (agents and admins)',
          response: { 200: WsStats, ...errorResponses },
        },
      },
      () => presence.stats(),
    )
  }
}
