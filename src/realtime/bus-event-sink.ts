import type { Logger } from 'pino'
import type { ChatEvent, EventSink } from '../chat/chat-events.js'
import type { Bus } from './bus.js'

/** One channel per session: a node subscribes to the sessions it has sockets for. */
export const sessionChannel = (sessionId: string) => `chat:session:${sessionId}`
/** Changes about users (blocks): rare, so one channel that every node hears. */
export const USERS_CHANNEL = 'chat:users'

function channelOf(event: ChatEvent): string {
  return event.type === 'block.changed' ? USERS_CHANNEL : sessionChannel(event.sessionId)
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
