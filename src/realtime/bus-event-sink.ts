import type { Logger } from 'pino'
import type { ChatEvent, EventSink } from '../chat/chat-events.js'
import type { Bus } from './bus.js'

export const sessionChannel = (sessionId: string) => `chat:session:${sessionId}`
export const userChannel = (userId: string) => `chat:user:${userId}`

export function channelOf(event: ChatEvent): string {
  return event.type === 'block.changed'
    ? userChannel(event.userId)
    : sessionChannel(event.sessionId)
}

/**
 * Announces chat events on the bus. A failed publish is logged, not thrown: the change is already
 * committed, and clients that missed it catch up from the store by `seq`.
 */
export class BusEventSink implements EventSink {
  constructor(
    private readonly bus: Bus,
    private readonly log: Logger,
  ) {}

  publish(event: ChatEvent): void {
    this.bus.publish(channelOf(event), event).catch((error: unknown) => {
      this.log.warn({ err: error, event: event.type }, 'could not publish a chat event')
    })
  }
}
