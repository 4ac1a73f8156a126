import type { HistoryQueryKind, HistoryResult } from '../results.js'
import type { HistorySpec } from '../scales.js'
import type { OursDriver } from '../servers/ours-driver.js'
import type { WorkloadContext } from './context.js'
import { openMessageSeeder } from './message-seeder.js'
import { serverInfo, withServer } from './measure.js'

const PAGE = 50

interface TimedQuery {
  sessionMessages: number
  kind: HistoryQueryKind
  sessionId: string
  /** The query string, `limit=50&…`. */
  search: string
  timingsMs: number[]
  seedMs: number
}

/**
 * Times `GET …/messages?limit=50` in sessions of each size: the newest page (offset 0), a page
 * half-way back by `offset`, and the same page by `before=` cursor. Sessions are seeded straight
 * into the database. Requests go one at a time and take turns across sizes and kinds, so a burst
 * of noise on the machine lands on all of them alike rather than on one.
 */
export async function runHistory(
  driver: OursDriver,
  spec: HistorySpec,
  context: WorkloadContext,
): Promise<HistoryResult[]> {
  return withServer(driver, async (server) => {
    const seeder = openMessageSeeder(server.database)
    try {
      const [user] = await server.users(1)
      const queries: TimedQuery[] = []
      for (const size of spec.sessionSizes) {
        const sessionId = await server.api.createSession(user!.token, `History of ${size}`, [])
        const started = performance.now()
        await seeder.seed(sessionId, user!.id, size)
        const seedMs = performance.now() - started
        context.log(
          `  ${driver.id}: seeded ${size.toLocaleString('en')} messages in ${(seedMs / 1_000).toFixed(1)} s`,
        )
        // The deep page is the 50 messages up to seq `middle`, reached by offset and by cursor alike.
        const middle = Math.ceil(size / 2)
        if (middle < PAGE) throw new Error(`history sessions need at least ${2 * PAGE} messages`)
        const cursor = await seeder.messageIdAt(sessionId, middle + 1)
        for (const [kind, position] of [
          ['newest page', 'offset=0'],
          ['offset deep', `offset=${size - middle}`],
          ['cursor deep', `before=${cursor}`],
        ] as const) {
          const search = `limit=${PAGE}&${position}`
          queries.push({ sessionMessages: size, kind, sessionId, search, timingsMs: [], seedMs })
        }
      }

      for (let round = 0; round < spec.warmupSamples + spec.samples; round += 1) {
        for (const query of queries) {
          const started = performance.now()
          const count = await server.api.historyPage(user!.token, query.sessionId, query.search)
          const elapsed = performance.now() - started
          if (count !== PAGE)
            throw new Error(`${query.kind} in ${query.sessionMessages} returned ${count} messages`)
          if (round >= spec.warmupSamples) query.timingsMs.push(elapsed)
        }
      }
      return queries.map((query) => summarise(driver, query))
    } finally {
      await seeder.close()
    }
  })
}

function summarise(driver: OursDriver, query: TimedQuery): HistoryResult {
  const sorted = [...query.timingsMs].sort((a, b) => a - b)
  const at = (fraction: number) =>
    sorted[Math.min(sorted.length - 1, Math.ceil(fraction * sorted.length) - 1)]!
  return {
    server: serverInfo(driver),
    sessionMessages: query.sessionMessages,
    query: query.kind,
    samples: sorted.length,
    p50Ms: at(0.5),
    p99Ms: at(0.99),
    meanMs: sorted.reduce((sum, value) => sum + value, 0) / sorted.length,
    seedMs: query.seedMs,
  }
}
