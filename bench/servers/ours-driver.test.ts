import { Histogram, Registry } from 'prom-client'
import { describe, expect, it } from 'vitest'
import { Metrics } from '../../src/metrics.js'
import { OursDriver, parseHistogram } from './ours-driver.js'

describe("reading our server's store histogram from /metrics", () => {
  it('reads the buckets in ms, each counting what waited at most its bound', async () => {
    const metrics = new Metrics()
    for (const seconds of [0.0002, 0.0007, 0.003, 0.003, 2])
      metrics.messageStoreSeconds.observe(seconds)
    metrics.httpRequests.labels('GET', '/x', '200').observe(0.0002)

    const histogram = parseHistogram(await metrics.registry.metrics(), 'chat_message_store_seconds')

    expect(histogram?.boundsMs.slice(0, 4)).toEqual([0.5, 1, 2.5, 5])
    expect(histogram?.atMost.slice(0, 4)).toEqual([1, 2, 2, 4])
    expect(histogram?.boundsMs.at(-1)).toBe(1_000)
    expect(histogram?.atMost.at(-1)).toBe(4)
    // The one of 2 s is past every bound, and counted in all.
    expect(histogram?.count).toBe(5)
  })

  it('finds nothing in a build without it, nor in a labelled histogram', async () => {
    const registry = new Registry()
    new Histogram({
      name: 'chat_message_store_seconds',
      help: 'labelled',
      labelNames: ['via'],
      registers: [registry],
    })
      .labels('socket')
      .observe(0.001)

    expect(parseHistogram(await registry.metrics(), 'chat_message_store_seconds')).toBeUndefined()
    expect(parseHistogram('', 'chat_message_store_seconds')).toBeUndefined()
  })
})

describe('our server on tmpfs', () => {
  it('is a row of its own, which the fan-out reason finds by its id', () => {
    const options = {
      workDir: '/tmp/bench',
      cpuProfileDir: undefined,
      cli: 'dist/src/cli.js',
      database: 'sqlite' as const,
      postgresUrl: 'postgres://localhost/test',
      maxUsers: 10,
    }

    const onTmpfs = new OursDriver({ ...options, tmpfsDir: '/dev/shm/bench' })

    expect(onTmpfs.id).toBe('ours-sqlite-tmpfs')
    expect(onTmpfs.label).toBe('swipesavvy-chat, SQLite on tmpfs')
    expect(new OursDriver(options).id).toBe('ours-sqlite')
  })
})
