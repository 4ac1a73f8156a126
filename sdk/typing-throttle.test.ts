import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { TypingThrottle } from './typing-throttle.js'

describe('the typing throttle', () => {
  let sent: Array<[number, string, boolean]>
  let throttle: TypingThrottle
  const start = Date.UTC(2025, 11, 29, 10, 0, 0)

  beforeEach(() => {
    vi.useFakeTimers({ now: start })
    sent = []
    throttle = new TypingThrottle(
      (sessionId, isTyping) => sent.push([Date.now() - start, sessionId, isTyping]),
      { throttleMs: 2_000, idleMs: 3_000 },
    )
  })
  afterEach(() => vi.useRealTimers())

  /** A keystroke every `everyMs` for `forMs`. */
  function type(sessionId: string, forMs: number, everyMs = 100) {
    for (let elapsed = 0; elapsed < forMs; elapsed += everyMs) {
      throttle.keystroke(sessionId)
      vi.advanceTimersByTime(everyMs)
    }
  }

  it('sends "true" at most once per window while keys are pressed, "false" 3 s after the last', () => {
    type('s1', 5_000)
    vi.advanceTimersByTime(10_000)

    expect(sent).toEqual([
      [0, 's1', true],
      [2_000, 's1', true],
      [4_000, 's1', true],
      [4_900 + 3_000, 's1', false],
    ])
  })

  it('sends "false" at once on stop, and nothing more', () => {
    type('s1', 500)
    throttle.stop('s1')
    vi.advanceTimersByTime(10_000)

    expect(sent).toEqual([
      [0, 's1', true],
      [500, 's1', false],
    ])
  })

  it('sends nothing on stop when "true" was never sent', () => {
    throttle.stop('s1')

    expect(sent).toEqual([])
  })

  it('starts over after the idle "false"', () => {
    type('s1', 200)
    vi.advanceTimersByTime(3_000)
    type('s1', 200)

    expect(sent.map(([, , isTyping]) => isTyping)).toEqual([true, false, true])
  })

  it('keeps each session apart', () => {
    throttle.keystroke('s1')
    vi.advanceTimersByTime(1_000)
    throttle.keystroke('s2')
    throttle.stop('s1')
    vi.advanceTimersByTime(5_000)

    expect(sent).toEqual([
      [0, 's1', true],
      [1_000, 's2', true],
      [1_000, 's1', false],
      [4_000, 's2', false],
    ])
  })

  it('forgets a session without a word', () => {
    throttle.keystroke('s1')
    throttle.forget('s1')
    vi.advanceTimersByTime(5_000)

    expect(sent).toEqual([[0, 's1', true]])
  })
})
