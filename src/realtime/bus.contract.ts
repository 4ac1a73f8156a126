import { randomUUID } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import type { ChatEvent } from '../chat/chat-events.js'
import type { Bus } from './bus.js'

/** Two nodes' buses over one transport. */
export type CreateBuses = () => Promise<{ buses: [Bus, Bus]; close(): Promise<void> }>

const event = (n: number): ChatEvent => ({
  type: 'typing.changed',
  sessionId: 's',
  userId: `u${n}`,
  isTyping: true,
  at: n,
})

const settle = (ms = 50) => new Promise((resolve) => setTimeout(resolve, ms))

async function until(predicate: () => boolean, timeoutMs = 3_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('timed out')
    await settle(5)
  }
}

/** What every `Bus` promises, run against each implementation (memory and Redis). */
export function describeBus(name: string, create: CreateBuses): void {
  describe(`${name} bus`, () => {
    let close: (() => Promise<void>) | undefined
    afterEach(async () => {
      await close?.()
      close = undefined
    })

    // Fresh channel names per test: other suites may share the same Redis at the same time.
    let channelA = ''
    let channelB = ''
    async function setUp() {
      channelA = `chat:session:${randomUUID()}`
      channelB = `chat:session:${randomUUID()}`
      const created = await create()
      close = () => created.close()
      return created.buses
    }

    it('hands events to every subscriber of the channel, on both nodes, in publish order', async () => {
      const [a, b] = await setUp()
      const onA: ChatEvent[] = []
      const onB: ChatEvent[] = []
      await a.subscribe(channelA, (e) => onA.push(e))
      await b.subscribe(channelA, (e) => onB.push(e))

      for (let i = 0; i < 20; i++) await a.publish(channelA, event(i))
      await until(() => onA.length === 20 && onB.length === 20)

      expect(onA).toEqual(Array.from({ length: 20 }, (_, i) => event(i)))
      expect(onB).toEqual(onA)
    })

    it('hands a node its own events exactly once', async () => {
      const [a] = await setUp()
      const seen: ChatEvent[] = []
      await a.subscribe(channelA, (e) => seen.push(e))

      await a.publish(channelA, event(1))
      await settle(150)

      expect(seen).toEqual([event(1)])
    })

    it('keeps channels apart and stops after unsubscribe', async () => {
      const [a, b] = await setUp()
      const one: ChatEvent[] = []
      const two: ChatEvent[] = []
      const stop = await b.subscribe(channelA, (e) => one.push(e))
      await b.subscribe(channelB, (e) => two.push(e))

      await a.publish(channelA, event(1))
      await until(() => one.length === 1)
      await stop()
      await a.publish(channelA, event(2))
      await a.publish(channelB, event(3))
      await until(() => two.length === 1)
      await settle()

      expect(one).toEqual([event(1)])
      expect(two).toEqual([event(3)])
    })

    it('keeps a second subscriber of a channel after the first leaves', async () => {
      const [a] = await setUp()
      const first: ChatEvent[] = []
      const second: ChatEvent[] = []
      const stopFirst = await a.subscribe(channelA, (e) => first.push(e))
      await a.subscribe(channelA, (e) => second.push(e))

      await stopFirst()
      await a.publish(channelA, event(1))
      await until(() => second.length === 1)

      expect(first).toEqual([])
    })

    it('reports itself healthy while connected', async () => {
      const [a, b] = await setUp()

      expect(a.isHealthy()).toBe(true)
      expect(b.isHealthy()).toBe(true)
    })
  })
}
