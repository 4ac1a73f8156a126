import { randomUUID } from 'node:crypto'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { WebSocketServer, type WebSocket } from 'ws'
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
} from './baseline-frames.js'

/**
 * The Node.js ceiling: `ws` with the guide's paths and frames and nothing else. No token check,
 * no storage, no ordering beyond one process's event loop. Each text frame is encoded once and the
 * same bytes go to every socket of the session, as our server does.
 */

interface Room {
  sockets: Set<WebSocket>
  sequence: RoomSequence
}

const SOCKET_PATH = /^\/api\/v1\/chat\/ws\/([^/?]+)/
const rooms = new Map<string, Room>()
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
  }
  const joined = room
  joined.sockets.add(ws)
  broadcast(joined, userJoinedFrame(sessionId, userId, joined.sockets.size))
  ws.on('message', (data: Buffer) => {
    const frame = parseFrame(data.toString('utf8'))
    if (frame === undefined) return
    if (frame.message_type === 'ping') send(ws, encode(pongFrame()))
    else if (isSendFrame(frame))
      broadcast(joined, messageFrame(sessionId, userId, joined.sequence.next(), frame))
  })
  ws.on('error', () => undefined)
  ws.on('close', () => {
    joined.sockets.delete(ws)
    if (joined.sockets.size === 0) rooms.delete(sessionId)
  })
}

function broadcast(room: Room, frame: object): void {
  const data = encode(frame)
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
})
