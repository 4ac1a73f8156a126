import { afterEach, describe, expect, it } from 'vitest'
import { AppError } from '../errors.js'
import { buildTestApp, type TestApp } from '../testing/test-app.js'
import type { Store } from '../store/store.js'
import type { ChatEvent } from './chat-events.js'
import { MessagesService } from './messages.service.js'

describe('MessagesService under overload', () => {
  let t: TestApp
  afterEach(() => t?.close())

  it('refuses sends while too many wait for the store, and stores none of those', async () => {
    t = await buildTestApp()
    const ana = await t.signUp('ana')
    const session = await ana.createSession()
    // The real store, with its appends held until the test lets them go: a slow disk.
    let release!: () => void
    const held = new Promise<void>((resolve) => (release = resolve))
    const slowStore: Store = Object.create(t.store) as Store
    Object.defineProperty(slowStore, 'messages', {
      value: {
        ...t.store.messages,
        append: (m: never) => held.then(() => t.store.messages.append(m)),
      },
    })
    const events: ChatEvent[] = []
    const service = new MessagesService(
      slowStore,
      { publish: (e) => events.push(e) },
      {
        messagesPerSecond: 100,
        messageBurst: 100,
        maxPendingMessages: 3,
      },
    )

    const sends = Array.from({ length: 5 }, (_, i) =>
      service.post(ana.user, session.id, { content: `m${i}` }, { isKnownParticipant: true }),
    )
    release()
    const results = await Promise.allSettled(sends)

    expect(results.map((r) => r.status)).toEqual([
      'fulfilled',
      'fulfilled',
      'fulfilled',
      'rejected',
      'rejected',
    ])
    const refusal = (results[3] as PromiseRejectedResult).reason as AppError
    expect(refusal).toBeInstanceOf(AppError)
    expect(refusal.code).toBe('unavailable')
    expect(refusal.retryAfterSeconds).toBe(1)
    expect(events).toHaveLength(3)
    expect((await t.store.sessions.findById(session.id))?.last_seq).toBe(3)
  })
})
