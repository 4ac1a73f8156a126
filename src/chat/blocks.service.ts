import type { Static } from '@sinclair/typebox'
import { badRequest, notFound } from '../errors.js'
import { iso } from '../http/schemas.js'
import type { Store, UserRecord } from '../store/store.js'
import type { EventSink } from './chat-events.js'
import type { BlockedUser } from './chat.schemas.js'

/**
 * Blocking. When A blocks B, nothing B sends reaches A (live, history, unread counts) and B cannot
 * pull A into a session. Block and unblock are idempotent.
 */
export class BlocksService {
  constructor(
    private readonly store: Store,
    private readonly events: EventSink,
    private readonly now: () => number = Date.now,
  ) {}

  async block(
    caller: UserRecord,
    userId: string,
    reason: string | null | undefined,
  ): Promise<void> {
    await this.#requireOtherUser(caller, userId, 'block')
    await this.store.blocks.block({
      blocker_id: caller.id,
      blocked_id: userId,
      reason: reason ?? null,
      created_at: this.now(),
    })
    this.events.publish({
      type: 'block.changed',
      userId: caller.id,
      otherUserId: userId,
      blocked: true,
    })
  }

  async unblock(caller: UserRecord, userId: string): Promise<void> {
    await this.#requireOtherUser(caller, userId, 'unblock')
    await this.store.blocks.unblock(caller.id, userId)
    this.events.publish({
      type: 'block.changed',
      userId: caller.id,
      otherUserId: userId,
      blocked: false,
    })
  }

  async list(caller: UserRecord): Promise<Array<Static<typeof BlockedUser>>> {
    const blocks = await this.store.blocks.listByBlocker(caller.id)
    const users = new Map(
      (await this.store.users.findManyByIds(blocks.map((b) => b.blocked_id))).map((u) => [u.id, u]),
    )
    return blocks.map((block) => ({
      user_id: block.blocked_id,
      email: users.get(block.blocked_id)?.email ?? null,
      full_name: users.get(block.blocked_id)?.full_name ?? null,
      reason: block.reason,
      blocked_at: iso(block.created_at),
    }))
  }

  /** The users `userId` blocks: whose messages and typing never reach them. */
  async hiddenSenders(userId: string): Promise<Set<string>> {
    return new Set((await this.store.blocks.listByBlocker(userId)).map((b) => b.blocked_id))
  }

  async #requireOtherUser(caller: UserRecord, userId: string, verb: string): Promise<void> {
    if (userId === caller.id) throw badRequest(`You cannot ${verb} yourself.`)
    if ((await this.store.users.findById(userId)) === undefined)
      throw notFound('No user has this id.')
  }
}
