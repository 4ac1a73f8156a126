import { randomUUID } from 'node:crypto'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { WebSocketServer, type WebSocket } from 'ws'
import type { MessageRow } from '../../message-row.js'
import {
  announceListening,
  exitOnSignals,
  isSendFrame,
  listenPort,
  messageFrame,
  parseFrame,
  pongFrame,
  RoomSequence,
  userJoinedFrame,
  type MessageFrame,
} from './baseline-frames.js'
import { groupCommitFromEnv } from './group-commit.js'
import { redisRelayFromEnv } from './redis-relay.js'

/**
 * The Node.js ceiling: `ws` with the guide's paths and frames and nothing else. No token check,
 * no storage, no ordering beyond one process's event loop. Each text frame is encoded once and the
 * same bytes go to every socket of the session, as our server does.
 *
 * With `SQLITE_FILE` or `POSTGRES_URL` set it is the floor of a server that stores each message
 * before broadcasting it: the same, plus one row per message in that database (see `GroupCommit`).
 * With `REDIS_URL` too, several of them serve one chat, their messages relayed through Redis (see
 * `RedisRelay`): the floor of a server that stores first on many nodes.
 */

interface Room {
  sockets: Set<WebSocket>
  sequence: RoomSequence
}

const SOCKET_PATH = /^\/api\/v1\/chat\/ws\/([^/?]+)/
const rooms = new Map<string, Room>()

const storage = await groupCommitFromEnv()
const relay = redisRelayFromEnv((sessionId, frame) => {
  const room = rooms.get(sessionId)
  if (room !== undefined) sendToAll(room, frame)
})
const server = http.createServer((_request, response) => response.writeHead(404).end())
const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: 64 * 1024 })

server.on('upgrade', (request, socket, head) => {
  const sessionId = SOCKET_PATH.exec(request.url ?? '')?.[1]
  if (sessionId === undefined) return socket.destroy()
  wss.handleUpgrade(request, socket, head, (ws) => join(ws, sessionId))
})

function join(ws: WebSocket, sessionId: string): void {
  const userId = randomUUID()
  let room = rooms.get(sessionId)
  if (room === undefined) {
    room = { sockets: new Set(), sequence: new RoomSequence() }
    rooms.set(sessionId, room)
    relay?.join(sessionId)
  }
  const joined = room
  joined.sockets.add(ws)
  broadcast(joined, userJoinedFrame(sessionId, userId, joined.sockets.size))
  ws.on('message', (data: Buffer) => {
    const frame = parseFrame(data.toString('utf8'))
    if (frame === undefined) return
    if (frame.message_type === 'ping') send(ws, encode(pongFrame()))
    else if (isSendFrame(frame)) {
      const message = messageFrame(sessionId, userId, joined.sequence.next(), frame)
      const share = () => {
        const data = encode(message)
        sendToAll(joined, data)
        relay?.publish(sessionId, data)
      }
      if (storage === undefined) share()
      else storage.store(rowOf(message), share)
    }
  })
  ws.on('error', () => undefined)
  ws.on('close', () => {
    joined.sockets.delete(ws)
    if (joined.sockets.size === 0) {
      rooms.delete(sessionId)
      relay?.leave(sessionId)
    }
  })
}

function rowOf(message: MessageFrame): MessageRow {
  const { message_id, seq } = message.metadata
  return [message_id, message.chat_session_id, seq, message.content, Date.now()]
}

function broadcast(room: Room, frame: object): void {
  sendToAll(room, encode(frame))
}

function sendToAll(room: Room, data: Buffer): void {
  for (const socket of room.sockets) send(socket, data)
}

function encode(frame: object): Buffer {
  return Buffer.from(JSON.stringify(frame))
}

/** Text frames, as the guide's clients expect (`ws` would send a Buffer as binary). */
function send(ws: WebSocket, data: Buffer): void {
  if (ws.readyState === ws.OPEN) ws.send(data, { binary: false })
}

const { port, host } = listenPort()
server.listen(port, host, () => {
  announceListening('bare-ws', (server.address() as AddressInfo).port)
})
exitOnSignals(async () => {
  for (const client of wss.clients) client.terminate()
  server.close()
  await relay?.close()
})
