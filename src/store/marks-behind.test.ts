import { afterEach, describe, expect, it } from 'vitest'
import { MarksBehind } from './marks-behind.js'

interface Mark {
  key: string
  level: number
}

describe('MarksBehind', () => {
  let marks: MarksBehind<Mark> | undefined
  afterEach(() => marks?.close())

  function behind(
    write: (batch: Mark[]) => Promise<void>,
    onWriteError: (error: unknown) => void = () => undefined,
  ) {
    marks = new MarksBehind<Mark>({ level: (mark) => mark.level, write, onWriteError, chunk: 2 })
    return marks
  }

  it('writes the highest mark of each key, a chunk at a time', async () => {
    const written: Mark[][] = []
    const marks = behind((batch) => {
      written.push(batch)
      return Promise.resolve()
    })
    for (const [key, level] of [
      ['a', 1],
      ['b', 5],
      ['a', 3],
      ['b', 2],
      ['c', 1],
    ] as const)
      marks.record(key, { key, level })

    await marks.flush()

    expect(written).toEqual([
      [
        { key: 'a', level: 3 },
        { key: 'b', level: 5 },
      ],
      [{ key: 'c', level: 1 }],
    ])
  })

  it('keeps the marks of a failed write for the next flush, unless a higher one came meanwhile', async () => {
    const written: Mark[] = []
    const errors: unknown[] = []
    let failing = true
    const marks = behind(
      (batch) => {
        if (failing) return Promise.reject(new Error('database unavailable'))
        written.push(...batch)
        return Promise.resolve()
      },
      (error) => errors.push(error),
    )
    marks.record('a', { key: 'a', level: 1 })
    marks.record('b', { key: 'b', level: 1 })
    await marks.flush()
    marks.record('b', { key: 'b', level: 4 })
    failing = false

    await marks.flush()

    expect(errors).toHaveLength(1)
    expect(written).toEqual([
      { key: 'a', level: 1 },
      { key: 'b', level: 4 },
    ])
  })
})
