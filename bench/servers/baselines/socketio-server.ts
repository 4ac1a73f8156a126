import { randomUUID } from 'node:crypto'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { createAdapter } from '@socket.io/redis-adapter'
import { Redis } from 'ioredis'
import { Server } from 'socket.io'
import {
  announceListening,
  exitOnSignals,
  isSendFrame,
  listenPort,
  messageFrame,
  pongFrame,
  RoomSequence,
  userJoinedFrame,
  type ClientFrame,
} from './baseline-frames.js'

/**
 * What most people would pick instead: Socket.IO 4 with one room per session, carrying the guide's
 * frames as `message` events. WebSocket transport only (no long-polling upgrade dance), no
 * compression, no authentication, no storage. With `REDIS_URL`, nodes share rooms through the
 * official Redis adapter; `seq` is then per node, since Socket.IO has no shared order to give.
 */

const server = http.createServer()
const io = new Server(server, {
  transports: ['websocket'],
  serveClient: false,
  perMessageDeflate: false,
  httpCompression: false,
})

const redisUrl = process.env.REDIS_URL
const redisClients: Redis[] = []
if (redisUrl !== undefined && redisUrl !== '') {
  const publisher = new Redis(redisUrl)
  const subscriber = publisher.duplicate()
  redisClients.push(publisher, subscriber)
  io.adapter(createAdapter(publisher, subscriber))
}

const sequences = new Map<string, RoomSequence>()

io.on('connection', (socket) => {
  const sessionId = String(socket.handshake.query.session_id ?? '')
  const userId = randomUUID()
  let sequence = sequences.get(sessionId)
  if (sequence === undefined) {
    sequence = new RoomSequence()
    sequences.set(sessionId, sequence)
  }
  const room = sequence
  void socket.join(sessionId)
  io.to(sessionId).emit(
    'message',
    userJoinedFrame(sessionId, userId, io.sockets.adapter.rooms.get(sessionId)?.size ?? 1),
  )
  socket.on('message', (frame: ClientFrame) => {
    if (typeof frame !== 'object' || frame === null) return
    if (frame.message_type === 'ping') socket.emit('message', pongFrame())
    else if (isSendFrame(frame))
      io.to(sessionId).emit('message', messageFrame(sessionId, userId, room.next(), frame))
  })
  socket.on('disconnect', () => {
    if (io.sockets.adapter.rooms.get(sessionId) === undefined) sequences.delete(sessionId)
  })
})

const { port, host } = listenPort()
server.listen(port, host, () => {
  const name = redisUrl ? 'socketio-redis' : 'socketio'
  announceListening(name, (server.address() as AddressInfo).port)
})
exitOnSignals(async () => {
  await io.close()
  for (const client of redisClients) client.disconnect()
})
