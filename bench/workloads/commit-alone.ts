import { MESSAGE_TEXT } from '../message.js'
import {
  INSERT_MESSAGE_ROW,
  MESSAGE_ROW_TABLE,
  openMessageRowFile,
  type MessageRow,
} from '../message-row.js'
import type { CommitAloneResult } from '../results.js'
import type { CommitAloneSpec } from '../scales.js'
import {
  createBenchDatabase,
  DATABASE_NAMES,
  withPostgres,
  type BenchDatabase,
  type DatabaseKind,
} from '../servers/bench-database.js'
import { LatencyHistogram } from '../load/histogram.js'
import type { WorkloadContext } from './context.js'

/**
 * How long one commit takes on this machine with nothing else running: a message-sized row
 * inserted and committed on its own, one after the other, with the durability our server runs
 * with (SQLite in WAL mode with `synchronous=NORMAL`; PostgreSQL with its defaults, so a commit
 * waits for its log to reach the disk).
 *
 * Every message waits for at least one commit before it is broadcast, so no delivery of a server
 * that stores first can be quicker than this: the report sets its p99 against the fan-out target.
 */
export async function runCommitAlone(
  kind: DatabaseKind,
  spec: CommitAloneSpec,
  context: WorkloadContext & { workDir: string; postgresUrl: string },
): Promise<CommitAloneResult> {
  const database = await createBenchDatabase(kind, context)
  try {
    const latency = await timeCommits(database, spec)
    const result: CommitAloneResult = {
      database: kind,
      commits: spec.commits,
      p50Ms: latency.percentile(0.5),
      p99Ms: latency.percentile(0.99),
      maxMs: latency.maxMs,
    }
    context.log(
      `  ${DATABASE_NAMES[kind]} alone, one message per commit: ` +
        `p50 ${result.p50Ms.toFixed(3)} ms, p99 ${result.p99Ms.toFixed(3)} ms`,
    )
    return result
  } finally {
    await database.dispose()
  }
}

/** Commits rows one at a time; the first `spec.warmupCommits` are not counted. */
async function timeCommits(
  database: BenchDatabase,
  spec: CommitAloneSpec,
): Promise<LatencyHistogram> {
  const latency = new LatencyHistogram()
  const total = spec.warmupCommits + spec.commits
  const row = (n: number): MessageRow => [`probe-${n}`, 'session', n, MESSAGE_TEXT, Date.now()]
  const record = (n: number, startedAt: number) => {
    if (n >= spec.warmupCommits) latency.record(performance.now() - startedAt)
  }
  if (database.kind === 'sqlite') {
    const { db, insert } = openMessageRowFile(database.file)
    try {
      for (let n = 0; n < total; n++) {
        const startedAt = performance.now()
        insert.run(...row(n))
        record(n, startedAt)
        // A turn of the event loop between commits, as a server has.
        await new Promise((resolve) => setImmediate(resolve))
      }
    } finally {
      db.close()
    }
    return latency
  }
  await withPostgres(database.url, async (client) => {
    await client.query(MESSAGE_ROW_TABLE)
    for (let n = 0; n < total; n++) {
      const startedAt = performance.now()
      await client.query(INSERT_MESSAGE_ROW, row(n))
      record(n, startedAt)
    }
  })
  return latency
}
