import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { ErrorBody } from '../http/schemas.js'

const PROTOCOL = `WebSocket. Connect with \`?token=<JWT>\` (or an \`Authorization: Bearer\` header).

Two forms share one protocol:
- \`/api/v1/chat/ws/{session_id}?token=…&last_seq=N\`: one session (the guide's clients).
- \`/api/v1/chat/ws?token=…\`: many sessions over one socket; send \`subscribe\` \`{chat_session_id, last_seq?}\` and \`unsubscribe\` \`{chat_session_id}\`, and name \`chat_session_id\` in every other frame.

Client frames: \`text\` \`{content, reply_to_id?, mentions?, client_message_id?}\`, \`file\` \`{content, file_url, file_name, file_size?, file_type, client_message_id?}\`, \`typing\` \`{content: "true"|"false"}\`, \`read\` \`{up_to_message_id?}\`, \`ping\`.

Server frames: \`message\`, \`typing_indicator\`, \`user_joined\`, \`user_left\`, \`read_receipt\`, \`session_closed\`, \`subscribed\`, \`unsubscribed\`, \`error\`, \`pong\`, each with the envelope \`{message_type, chat_session_id, user_id, timestamp, metadata}\`.

\`last_seq\` replays every stored message after it before any live one. Close codes: 1000 session closed, 1008 refused (token, session, participant, origin, flooding), 1009 frame over 64 KiB, 1011 server fault or restart (reconnect and resume).`

/**
 * The socket paths as plain HTTP: documentation in the OpenAPI file, and a 426 for a request that
 * did not ask to upgrade. The upgrade itself never reaches these routes (see `Gateway`).
 */
export function socketRoutes(): FastifyPluginAsyncTypebox {
  return async (app) => {
    const upgradeRequired = async (_request: FastifyRequest, reply: FastifyReply) =>
      reply.status(426).send({
        detail: 'This path speaks WebSocket: send an Upgrade request.',
        code: 'upgrade_required',
      })

    app.get(
      '/ws',
      {
        schema: {
          tags: ['chat'],
          summary: 'Real-time chat over WebSocket (both socket forms)',
          description: PROTOCOL,
          response: { 426: ErrorBody },
        },
      },
      upgradeRequired,
    )
    app.get('/ws/:session_id', { schema: { hide: true } }, upgradeRequired)
  }
}
